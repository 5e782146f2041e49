package store

import (
	"context"
	"database/sql"
	"slices"
	"sync"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// maxGroup bounds the events one transaction commits, so that a burst does not hold
// the writer for long and the first caller of a batch is not kept waiting by the last.
const maxGroup = 256

// groupCommit lets concurrent Records share one transaction (group commit) on a
// writer of one connection (SQLite). A commit costs about half of an event (the
// changed pages written to the WAL, the locks taken and released), and events recorded
// together change mostly the same pages: BenchmarkRecordParallel. Callers queue
// their events; the first becomes the leader and commits everything queued, in the
// order it was queued, and hands the lead to the first caller that queued meanwhile. A
// lone caller commits its event at once, in a transaction of its own, as before. No
// goroutine of its own: the callers do the work.
type groupCommit struct {
	mu      sync.Mutex
	queued  []*queuedEvent
	leading bool // a caller is committing a batch; the others wait for their turn
}

// queuedEvent is one Record call waiting in a groupCommit.
type queuedEvent struct {
	tenantID int64
	ev       hostapi.Event
	id       int64
	err      error
	// turn receives true when this caller is to lead the next batch, false when its
	// event was committed by another's (id and err are set).
	turn chan bool
}

// join queues q and reports whether its caller leads the next batch now.
func (g *groupCommit) join(q *queuedEvent) (lead bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.queued = append(g.queued, q)
	if g.leading {
		return false
	}
	g.leading = true
	return true
}

// take removes the next batch from the queue.
func (g *groupCommit) take() []*queuedEvent {
	g.mu.Lock()
	defer g.mu.Unlock()
	batch := g.queued
	if len(batch) <= maxGroup {
		g.queued = nil
		return batch
	}
	g.queued = slices.Clone(batch[maxGroup:]) // the rest, in an array of its own
	return batch[:maxGroup:maxGroup]
}

// handOver gives the lead to the first caller queued during the last batch, or ends
// the lead when none did.
func (g *groupCommit) handOver() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.queued) == 0 {
		g.leading = false
		return
	}
	g.queued[0].turn <- true
}

// record commits ev through the group commit and returns its id.
// Without one (s.group nil), the event gets a transaction of its own.
func (s *Store) record(ctx context.Context, tenantID int64, ev hostapi.Event) (int64, error) {
	q := &queuedEvent{tenantID: tenantID, ev: ev}
	if s.group == nil {
		s.commitBatch(ctx, []*queuedEvent{q})
		return q.id, q.err
	}
	q.turn = make(chan bool, 1)
	if !s.group.join(q) && !<-q.turn {
		return q.id, q.err
	}
	batch := s.group.take()
	// The batch holds other callers' events, which must not fail because this
	// caller's context ends; each caller checked its own before queueing.
	s.commitBatch(context.WithoutCancel(ctx), batch)
	for _, other := range batch {
		if other != q {
			other.turn <- false
		}
	}
	s.group.handOver()
	return q.id, q.err
}

// commitBatch records the events of batch in one transaction and sets each one's id,
// or, when that fails, each in a transaction of its own, so that one event's error is
// its caller's alone.
func (s *Store) commitBatch(ctx context.Context, batch []*queuedEvent) {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, q := range batch {
			var err error
			if q.id, err = s.insertEvent(ctx, tx, q.tenantID, q.ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		return
	}
	if len(batch) == 1 {
		batch[0].id, batch[0].err = 0, err
		return
	}
	for i := range batch {
		s.commitBatch(ctx, batch[i:i+1])
	}
}
