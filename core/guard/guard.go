// Package guard is the brute-force protection every protocol shares: it counts failed
// logins per source address and bans an address that fails too often.
//
// The counters live in this node's memory: a ban is per node. With several nodes behind
// a load balancer an attacker's budget is multiplied by the number of nodes, which the
// threshold should allow for.
package guard

import (
	"net/netip"
	"sync"
	"time"
)

// Guard counts failures in a sliding window. The zero value is not usable; use New.
type Guard struct {
	threshold int
	window    time.Duration
	banFor    time.Duration
	// OnBan, when set, is called (outside the lock) when an address gets banned.
	OnBan func(addr netip.Addr, until time.Time, protocol, account string)
	now   func() time.Time

	mu    sync.Mutex
	fails map[netip.Addr][]time.Time
	bans  map[netip.Addr]time.Time
}

// New returns a guard that bans an address for banFor after threshold failures within
// window. threshold <= 0 disables banning.
func New(threshold int, window, banFor time.Duration) *Guard {
	return &Guard{threshold: threshold, window: window, banFor: banFor, now: time.Now,
		fails: map[netip.Addr][]time.Time{}, bans: map[netip.Addr]time.Time{}}
}

// SetClock replaces the clock (tests).
func (g *Guard) SetClock(now func() time.Time) { g.now = now }

// Banned reports whether addr is banned, and until when.
func (g *Guard) Banned(addr netip.Addr) (bool, time.Time) {
	addr = addr.Unmap()
	g.mu.Lock()
	defer g.mu.Unlock()
	until, ok := g.bans[addr]
	if !ok {
		return false, time.Time{}
	}
	if !g.now().Before(until) {
		delete(g.bans, addr)
		return false, time.Time{}
	}
	return true, until
}

// Failed records one failed login from addr; the failure that reaches the threshold
// bans the address.
func (g *Guard) Failed(addr netip.Addr, protocol, account string) {
	if g.threshold <= 0 {
		return
	}
	addr = addr.Unmap()
	now := g.now()
	g.mu.Lock()
	recent := g.fails[addr][:0]
	for _, t := range g.fails[addr] {
		if now.Sub(t) < g.window {
			recent = append(recent, t)
		}
	}
	recent = append(recent, now)
	var until time.Time
	if len(recent) >= g.threshold {
		until = now.Add(g.banFor)
		g.bans[addr] = until
		delete(g.fails, addr)
	} else {
		g.fails[addr] = recent
	}
	g.sweep(now)
	g.mu.Unlock()
	if !until.IsZero() && g.OnBan != nil {
		g.OnBan(addr, until, protocol, account)
	}
}

// Succeeded forgets addr's failures after a good login.
func (g *Guard) Succeeded(addr netip.Addr) {
	g.mu.Lock()
	delete(g.fails, addr.Unmap())
	g.mu.Unlock()
}

// sweep drops stale entries so a scan from many addresses cannot grow memory forever.
// Called with mu held; it is cheap unless the maps are large.
func (g *Guard) sweep(now time.Time) {
	if len(g.fails) < 10000 && len(g.bans) < 10000 {
		return
	}
	for a, ts := range g.fails {
		if len(ts) == 0 || now.Sub(ts[len(ts)-1]) >= g.window {
			delete(g.fails, a)
		}
	}
	for a, until := range g.bans {
		if !now.Before(until) {
			delete(g.bans, a)
		}
	}
}

// Bans returns the number of addresses banned now.
func (g *Guard) Bans() int {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, until := range g.bans {
		if now.Before(until) {
			n++
		}
	}
	return n
}
