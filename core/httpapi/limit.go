package httpapi

import (
	"fmt"
	"sync"
	"time"
)

var sprintf = fmt.Sprintf

// limiter counts requests per key in fixed windows: simple, cheap, and it gives the
// exact X-RateLimit-Remaining the reference API reports.
type limiter struct {
	limit  int
	window time.Duration
	mu     sync.Mutex
	counts map[string]*windowCount
	swept  time.Time
}

type windowCount struct {
	start time.Time
	n     int
}

func newLimiter(limit int, window time.Duration) *limiter {
	return &limiter{limit: limit, window: window, counts: map[string]*windowCount{}}
}

// allow counts one request for key at now and reports whether it is within the limit,
// how many remain in the window, and when the window resets.
func (l *limiter) allow(key string, now time.Time) (ok bool, remaining int, reset time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > l.window { // forget idle keys so the map stays small
		for k, w := range l.counts {
			if now.Sub(w.start) >= l.window {
				delete(l.counts, k)
			}
		}
		l.swept = now
	}
	w := l.counts[key]
	if w == nil || now.Sub(w.start) >= l.window {
		w = &windowCount{start: now}
		l.counts[key] = w
	}
	reset = w.start.Add(l.window)
	if w.n >= l.limit {
		return false, 0, reset
	}
	w.n++
	return true, l.limit - w.n, reset
}
