package rules

import (
	"context"
	"time"

	"github.com/filegate/filegate/core/store"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// dispatchBatch is how many events one dispatch transaction reads.
const dispatchBatch = 500

// dispatchLoop turns new events into runs. It polls the newest event id on the read
// pool and only opens a write transaction when there is something to dispatch.
func (e *Engine) dispatchLoop(ctx context.Context) {
	reached := int64(-1) // the log is dispatched up to here (unknown at start)
	for {
		last, err := e.opt.Store.LastEventID(ctx)
		if err == nil && last > reached {
			created, read, upto, derr := e.dispatchOnce(ctx)
			err = derr
			if err == nil {
				reached = upto
				if read == dispatchBatch {
					continue // more waiting
				}
			}
			for name := range created {
				e.wakeRule(name)
			}
		}
		if err != nil && ctx.Err() == nil {
			e.log.Error("dispatching events to rules; will retry", "err", err)
		}
		if !sleep(ctx, e.opt.Poll, e.dispatchWake) {
			return
		}
	}
}

// dispatchOnce runs one dispatch transaction over every rule and returns the runs it
// created per rule, the events it read and the id the rules' cursors reached.
func (e *Engine) dispatchOnce(ctx context.Context) (created map[string]int, read int, upto int64, err error) {
	e.mu.Lock()
	rules := make([]store.DispatchRule, 0, len(e.rules))
	for _, r := range e.rules {
		spec := r.spec
		rules = append(rules, store.DispatchRule{Name: spec.Name, Match: func(tenantID int64, ev hostapi.Event) bool { return spec.matches(tenantID, ev) }})
	}
	e.mu.Unlock()
	upto = -1
	created, read, err = e.opt.Store.Dispatch(ctx, rules, dispatchBatch, func(after int64, ids []int64) int64 {
		upto = e.horizon(after, ids, time.Now())
		return upto
	})
	return created, read, upto, err
}

// horizon is how far the log may be consumed: up to the first hole in the ids that
// is younger than GapWait (a transaction that took a lower id may still commit).
// Only the dispatch loop calls it.
func (e *Engine) horizon(after int64, ids []int64, now time.Time) int64 {
	upto := after
	for _, id := range ids {
		if id != upto+1 && e.opt.GapWait > 0 {
			first := upto + 1
			seen, ok := e.gaps[first]
			if !ok {
				e.gaps[first] = now
				break
			}
			if now.Sub(seen) < e.opt.GapWait {
				break
			}
			e.log.Warn("event ids skipped: the transactions that took them did not commit", "from", first, "to", id-1, "waited", e.opt.GapWait)
			delete(e.gaps, first)
		}
		upto = id
	}
	for first := range e.gaps {
		if first <= upto {
			delete(e.gaps, first)
		}
	}
	return upto
}

func (e *Engine) wakeRule(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r, ok := e.rules[name]; ok {
		wakeUp(r.wake)
	}
}

// scheduleLoop creates the runs of scheduled rules when they come due. The store makes
// each due time one run across every node.
func (e *Engine) scheduleLoop(ctx context.Context) {
	for {
		wait := time.Minute // look again at least this often (rules change, clocks drift)
		e.mu.Lock()
		var due []*rule
		for _, r := range e.rules {
			if r.spec.Schedule != nil && r.runner != nil {
				due = append(due, r)
			}
		}
		e.mu.Unlock()
		for _, r := range due {
			now := time.Now()
			next, created, err := e.opt.Store.ClaimSchedule(ctx, r.spec.Name, now, r.spec.Schedule.Next)
			if err != nil {
				if ctx.Err() == nil {
					e.log.Error("scheduling a rule; will retry", "rule", r.spec.Name, "err", err)
				}
				wait = min(wait, 5*time.Second)
				continue
			}
			if created {
				wakeUp(r.wake)
			}
			if !next.IsZero() {
				wait = min(wait, max(next.Sub(now), 10*time.Millisecond))
			}
		}
		if !sleep(ctx, wait, nil) {
			return
		}
	}
}
