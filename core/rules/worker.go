package rules

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/filegate/filegate/core/store"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// idlePoll is how often an idle worker looks for runs another node made due.
const idlePoll = 2 * time.Second

// leaseMargin is added to a rule's call timeout to make the lease of a claimed run:
// the plugin call ends by the timeout, the margin covers recording the outcome.
const leaseMargin = 5 * time.Second

// work claims and runs r's runs, up to its concurrency, until ctx ends; then it waits
// for the runs in flight.
func (e *Engine) work(ctx context.Context, r *rule) {
	lim := r.spec.Limits
	slots := make(chan struct{}, lim.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		free := lim.Concurrency - len(slots)
		claimed := 0
		if free > 0 {
			runs, err := e.claim(ctx, r, free)
			if err != nil && ctx.Err() == nil {
				e.log.Error("claiming rule runs; will retry", "rule", r.spec.Name, "err", err)
			}
			claimed = len(runs)
			for _, job := range runs {
				slots <- struct{}{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-slots; wakeUp(r.wake) }()
					e.execute(ctx, r, job)
				}()
			}
		}
		if claimed > 0 && claimed == free {
			continue // there may be more
		}
		if !sleep(ctx, e.idleWait(ctx, r), r.wake) {
			return
		}
	}
}

// job is a claimed run and, for an event run, its event.
type job struct {
	run   store.Run
	event hostapi.Event
	found bool
}

func (e *Engine) claim(ctx context.Context, r *rule, n int) ([]job, error) {
	runs, err := e.opt.Store.ClaimRuns(ctx, r.spec.Name, e.owner, time.Now(), r.spec.Limits.Timeout+leaseMargin, n)
	if err != nil || len(runs) == 0 {
		return nil, err
	}
	events, err := e.opt.Store.RunEvents(ctx, runs)
	if err != nil {
		// The runs stay claimed; they are taken again when the lease ends.
		return nil, err
	}
	jobs := make([]job, len(runs))
	for i, run := range runs {
		ev, ok := events[run.EventID]
		jobs[i] = job{run: run, event: ev, found: ok}
	}
	return jobs, nil
}

// idleWait is how long to sleep when there is nothing to claim: until the next retry
// or lease end is due, but never longer than idlePoll.
func (e *Engine) idleWait(ctx context.Context, r *rule) time.Duration {
	at, ok, err := e.opt.Store.NextRunAt(ctx, r.spec.Name)
	if err != nil || !ok {
		return idlePoll
	}
	d := time.Until(at)
	if d <= 0 {
		return idlePoll // due but held back behind an earlier run of its path: its end wakes us
	}
	return min(d+time.Millisecond, idlePoll)
}

// execute runs one claimed run and records the attempt and the run's next status.
func (e *Engine) execute(ctx context.Context, r *rule, j job) {
	run, lim := j.run, r.spec.Limits
	start := time.Now()
	rec := &Recorder{}
	cctx := WithRecorder(ctx, rec)
	var err error
	switch {
	case run.Scheduled():
		err = r.runner.OnSchedule(cctx, hostapi.Run{Rule: r.spec.Name, Time: run.DueAt})
	case j.found:
		err = r.runner.OnEvent(cctx, j.event)
	default:
		err = fmt.Errorf("event %d is no longer in the event log", run.EventID)
	}
	o := store.Outcome{Status: store.RunDone, Attempt: store.Attempt{StartedAt: start, DurationMs: time.Since(start).Milliseconds(), StatusCode: rec.Status()}}
	switch {
	case err == nil:
	case ctx.Err() != nil:
		o.Status, o.RetryAt, o.Attempt.Error = store.RunPending, time.Now(), errStopping.Error()
	case run.Attempts >= lim.MaxAttempts:
		o.Status, o.Attempt.Error = store.RunFailed, err.Error()
		e.log.Error("rule run failed for good; parked (retry it with POST /rules/{name}/runs/{id}/retry)",
			"rule", r.spec.Name, "run", run.ID, "path", run.Path, "attempts", run.Attempts, "err", err)
	default:
		o.Status, o.RetryAt, o.Attempt.Error = store.RunPending, time.Now().Add(backoff(lim.Backoff, run.Attempts)), err.Error()
		e.log.Warn("rule run failed; will retry", "rule", r.spec.Name, "run", run.ID, "path", run.Path, "attempt", run.Attempts, "retry_at", o.RetryAt, "err", err)
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaseMargin)
	defer cancel()
	if err := e.finisher.finish(fctx, store.Finish{Run: run, Owner: e.owner, Outcome: o}); err != nil {
		e.log.Warn("recording a rule run", "rule", r.spec.Name, "run", run.ID, "err", err)
	}
}

// backoff is the wait before the try after attempt n (1-based): base doubling each
// time, capped at MaxBackoff, with ±20% jitter so that retries of a burst spread out.
func backoff(base time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, MaxBackoff)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
