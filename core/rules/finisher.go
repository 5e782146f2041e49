package rules

import (
	"context"

	"github.com/filegate/filegate/core/store"
)

// maxFinishBatch bounds how many outcomes go in one transaction.
const maxFinishBatch = 256

// finisher records finished runs in batches: the outcomes that are waiting when the
// store becomes free go in one transaction. On SQLite every write transaction queues
// behind the others, uploads' events included, so ten busy rules must not cost ten
// transactions per event.
type finisher struct {
	store *store.Store
	reqs  chan finishReq
}

type finishReq struct {
	fin  store.Finish
	done chan error
}

func newFinisher(st *store.Store) *finisher {
	return &finisher{store: st, reqs: make(chan finishReq, maxFinishBatch)}
}

// finish queues fin and waits until it is recorded, or ctx ends.
func (f *finisher) finish(ctx context.Context, fin store.Finish) error {
	req := finishReq{fin: fin, done: make(chan error, 1)}
	select {
	case f.reqs <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run records batches until stop is closed, which its owner does once nothing can
// call finish any more.
func (f *finisher) run(stop <-chan struct{}) {
	for {
		var first finishReq
		select {
		case first = <-f.reqs:
		case <-stop:
			return
		}
		batch := []finishReq{first}
	more:
		for len(batch) < maxFinishBatch {
			select {
			case r := <-f.reqs:
				batch = append(batch, r)
			default:
				break more
			}
		}
		fins := make([]store.Finish, len(batch))
		for i, r := range batch {
			fins[i] = r.fin
		}
		ctx, cancel := context.WithTimeout(context.Background(), leaseMargin)
		errs := f.store.FinishRuns(ctx, fins)
		cancel()
		for i, r := range batch {
			r.done <- errs[i]
		}
	}
}
