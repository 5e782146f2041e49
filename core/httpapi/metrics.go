package httpapi

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"
	"time"
)

// latencyBuckets are the histogram's upper bounds in seconds.
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// metrics counts requests by route and status and their latency, in Prometheus's text
// format.
type metrics struct {
	mu     sync.Mutex
	counts map[routeStatus]uint64
	hist   map[string]*histogram
}

type routeStatus struct {
	route  string
	status int
}

type histogram struct {
	buckets []uint64
	count   uint64
	sum     float64
}

func newMetrics() *metrics {
	return &metrics{counts: map[routeStatus]uint64{}, hist: map[string]*histogram{}}
}

func (m *metrics) observe(route string, status int, d time.Duration) {
	secs := d.Seconds()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counts[routeStatus{route, status}]++
	h := m.hist[route]
	if h == nil {
		h = &histogram{buckets: make([]uint64, len(latencyBuckets))}
		m.hist[route] = h
	}
	for i, b := range latencyBuckets {
		if secs <= b {
			h.buckets[i]++
		}
	}
	h.count++
	h.sum += secs
}

// write prints every metric in the Prometheus text exposition format.
func (m *metrics) write(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintln(w, "# HELP filegate_http_requests_total HTTP requests by route and status.")
	fmt.Fprintln(w, "# TYPE filegate_http_requests_total counter")
	keys := make([]routeStatus, 0, len(m.counts))
	for k := range m.counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].route != keys[j].route {
			return keys[i].route < keys[j].route
		}
		return keys[i].status < keys[j].status
	})
	for _, k := range keys {
		fmt.Fprintf(w, "filegate_http_requests_total{route=%q,status=\"%d\"} %d\n", k.route, k.status, m.counts[k])
	}
	fmt.Fprintln(w, "# HELP filegate_http_request_duration_seconds HTTP request latency by route.")
	fmt.Fprintln(w, "# TYPE filegate_http_request_duration_seconds histogram")
	routes := make([]string, 0, len(m.hist))
	for r := range m.hist {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	for _, r := range routes {
		h := m.hist[r]
		for i, b := range latencyBuckets {
			fmt.Fprintf(w, "filegate_http_request_duration_seconds_bucket{route=%q,le=%q} %d\n", r, strconv.FormatFloat(b, 'g', -1, 64), h.buckets[i])
		}
		fmt.Fprintf(w, "filegate_http_request_duration_seconds_bucket{route=%q,le=\"+Inf\"} %d\n", r, h.count)
		fmt.Fprintf(w, "filegate_http_request_duration_seconds_sum{route=%q} %g\n", r, h.sum)
		fmt.Fprintf(w, "filegate_http_request_duration_seconds_count{route=%q} %d\n", r, h.count)
	}
}
