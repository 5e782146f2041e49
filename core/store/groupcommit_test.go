package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// TestGroupCommitKeepsEachCallersOutcome queues events while a batch is being
// committed, one of which the database refuses, then lets them commit together: the
// refused event's caller gets the error, every other event is recorded once, in the
// order it was queued, and the tree has every file. SQLite only: the store groups
// commits where the writer has one connection.
func TestGroupCommitKeepsEachCallersOutcome(t *testing.T) {
	s, _ := openTest(t, "sqlite")
	ctx := context.Background()
	tn, err := s.CreateTenant(ctx, "one", "default", "/")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.exec(ctx, `CREATE TRIGGER refuse_bad BEFORE INSERT ON events WHEN NEW.path = '/bad' BEGIN SELECT RAISE(ABORT, 'refused by test'); END`); err != nil {
		t.Fatal(err)
	}

	// As if another caller were committing a batch: the ones below queue.
	s.group.mu.Lock()
	s.group.leading = true
	s.group.mu.Unlock()
	const n = maxGroup + 4 // two batches
	paths := make([]string, n)
	for i := range paths {
		paths[i] = fmt.Sprintf("/in/f%03d.bin", i)
	}
	paths[5] = "/bad"
	ids := make(map[string]int64)
	errs := make(map[string]error)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range paths {
		wg.Go(func() {
			id, err := s.RecordID(ctx, tn.ID, hostapi.Event{Type: hostapi.EventFileUploaded, Path: p, Size: 1, Protocol: "sftp", Account: "cam"})
			mu.Lock()
			ids[p], errs[p] = id, err
			mu.Unlock()
		})
	}
	queued := waitQueued(t, s, n)
	s.group.handOver() // the batch "ends": the first queued leads the next

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("queued callers still waiting 30 s after the lead was handed over")
	}
	if err := errs["/bad"]; err == nil || !strings.Contains(err.Error(), "refused by test") {
		t.Fatalf("refused event: err = %v, want the database's refusal", err)
	}
	var last int64
	for _, p := range queued {
		if p == "/bad" {
			continue
		}
		if errs[p] != nil {
			t.Fatalf("%s failed with another caller's event: %v", p, errs[p])
		}
		if ids[p] <= last {
			t.Fatalf("ids out of queue order: %s got %d after %d (queued %v)", p, ids[p], last, queued)
		}
		last = ids[p]
	}
	evs, total, err := s.Events(ctx, tn.ID, EventFilter{Limit: n})
	if err != nil || total != n-1 {
		t.Fatalf("event log holds %d events (%v), want %d", total, err, n-1)
	}
	for _, ev := range evs {
		if ids[ev.Path] != ev.ID {
			t.Fatalf("event %d is %s, whose caller was told %d", ev.ID, ev.Path, ids[ev.Path])
		}
	}
	if got := strings.Count(treePaths(t, s, tn.ID, "/in"), ":file"); got != n-1 {
		t.Fatalf("tree has %d files under /in, want %d", got, n-1)
	}
	s.group.mu.Lock()
	leading := s.group.leading
	s.group.mu.Unlock()
	if leading {
		t.Fatal("the last leader did not give up the lead")
	}
}

// TestGroupCommitConcurrent records from many goroutines at once: every event once,
// each goroutine's in the order it recorded them; a cancelled context records nothing.
func TestGroupCommitConcurrent(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		s, _ := openTest(t, driver)
		ctx := context.Background()
		tn, err := s.CreateTenant(ctx, "one", "default", "/")
		if err != nil {
			t.Fatal(err)
		}
		const writers, each = 8, 60
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				var last int64
				for i := range each {
					p := fmt.Sprintf("/w%d/f%03d", w, i)
					id, err := s.RecordID(ctx, tn.ID, hostapi.Event{Type: hostapi.EventFileUploaded, Path: p, Protocol: "ftp", Account: "cam"})
					if err != nil {
						t.Errorf("%s: %v", p, err)
						return
					}
					if id <= last {
						t.Errorf("%s: id %d after this writer's %d", p, id, last)
						return
					}
					last = id
				}
			})
		}
		wg.Wait()
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.Record(cancelled, tn.ID, hostapi.Event{Type: hostapi.EventDirCreated, Path: "/late"}); err == nil {
			t.Fatal("Record with a cancelled context succeeded")
		}
		if _, total, err := s.Events(ctx, tn.ID, EventFilter{Limit: 1}); err != nil || total != writers*each {
			t.Fatalf("event log holds %d events (%v), want %d", total, err, writers*each)
		}
	})
}

// waitQueued waits until n callers are queued in s's group commit and returns their
// paths in queue order.
func waitQueued(t *testing.T, s *Store, n int) []string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		s.group.mu.Lock()
		var paths []string
		for _, q := range s.group.queued {
			paths = append(paths, q.ev.Path)
		}
		s.group.mu.Unlock()
		if len(paths) == n {
			return paths
		}
	}
	t.Fatalf("fewer than %d callers queued after 30 s", n)
	return nil
}
