package store

import (
	"context"
	"errors"
	"testing"
	"time"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

func all(int64, hostapi.Event) bool { return true }

func noGaps(_ int64, ids []int64) int64 {
	if len(ids) == 0 {
		return 0
	}
	return ids[len(ids)-1]
}

func TestRuleRunsLifecycle(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		s, _ := openTest(t, driver)
		ctx := context.Background()
		tn, _ := s.CreateTenant(ctx, "one", "default", "/")
		rec := func(p string) int64 {
			t.Helper()
			id, err := s.RecordID(ctx, tn.ID, hostapi.Event{Type: hostapi.EventFileUploaded, Path: p, Protocol: "http"})
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
		rec("/before.txt") // recorded before the rules exist: not theirs
		if err := s.EnsureCursors(ctx, []string{"mirror", "csv"}); err != nil {
			t.Fatal(err)
		}
		a1, _, a2 := rec("/a.txt"), rec("/b.csv"), rec("/a.txt")
		rules := []DispatchRule{{Name: "mirror", Match: all}, {Name: "csv", Match: func(_ int64, ev hostapi.Event) bool { return ev.Path == "/b.csv" }}}
		created, read, err := s.Dispatch(ctx, rules, 100, func(after int64, ids []int64) int64 { return noGaps(after, ids) })
		if err != nil || read != 3 || created["mirror"] != 3 || created["csv"] != 1 {
			t.Fatalf("dispatch: created %v, read %d, %v", created, read, err)
		}
		if created, read, _ = s.Dispatch(ctx, rules, 100, noGaps); read != 0 || len(created) != 0 {
			t.Fatalf("second dispatch: created %v read %d", created, read)
		}

		now := time.Now()
		runs, err := s.ClaimRuns(ctx, "mirror", "node1", now, time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		// The second /a.txt run waits for the first: one path's runs go in order.
		if len(runs) != 2 || runs[0].EventID != a1 || runs[0].Attempts != 1 || runs[1].Path != "/b.csv" {
			t.Fatalf("claimed %+v", runs)
		}
		if more, _ := s.ClaimRuns(ctx, "mirror", "node2", now, time.Minute, 10); len(more) != 0 {
			t.Fatalf("node2 claimed runs node1 holds: %+v", more)
		}
		evs, err := s.RunEvents(ctx, runs)
		if err != nil || evs[a1].Path != "/a.txt" {
			t.Fatalf("run events %v %v", evs, err)
		}
		// A retry of the first run still holds back the second.
		if err := s.FinishRun(ctx, runs[0], "node1", Outcome{Status: RunPending, RetryAt: now.Add(time.Hour),
			Attempt: Attempt{StartedAt: now, StatusCode: 500, Error: "status 500"}}); err != nil {
			t.Fatal(err)
		}
		if more, _ := s.ClaimRuns(ctx, "mirror", "node1", now, time.Minute, 10); len(more) != 0 {
			t.Fatalf("claimed during backoff: %+v", more)
		}
		// node1 dies holding /b.csv: node2 takes it over after the lease.
		later := now.Add(2 * time.Minute)
		taken, _ := s.ClaimRuns(ctx, "mirror", "node2", later, time.Minute, 10)
		if len(taken) != 1 || taken[0].Path != "/b.csv" || taken[0].Attempts != 2 {
			t.Fatalf("takeover: %+v", taken)
		}
		if err := s.FinishRun(ctx, runs[1], "node1", Outcome{Status: RunDone}); !errors.Is(err, ErrConflict) {
			t.Fatalf("the dead node's late finish: %v, want ErrConflict", err)
		}
		if err := s.FinishRun(ctx, taken[0], "node2", Outcome{Status: RunDone, Attempt: Attempt{StartedAt: later}}); err != nil {
			t.Fatal(err)
		}
		// The retry comes due, fails for good, is parked, retried by hand, and the
		// second /a.txt run follows it.
		due := now.Add(2 * time.Hour)
		r, _ := s.ClaimRuns(ctx, "mirror", "node1", due, time.Minute, 10)
		if len(r) != 1 || r[0].EventID != a1 || r[0].Attempts != 2 {
			t.Fatalf("retry claim %+v", r)
		}
		s.FinishRun(ctx, r[0], "node1", Outcome{Status: RunFailed, Attempt: Attempt{StartedAt: due, Error: "gave up"}})
		failed, total, _ := s.Runs(ctx, RunFilter{Rule: "mirror", Status: RunFailed, Limit: 10})
		if total != 1 || failed[0].LastError != "gave up" {
			t.Fatalf("failed runs %+v", failed)
		}
		next, _ := s.ClaimRuns(ctx, "mirror", "node1", due, time.Minute, 10)
		if len(next) != 1 || next[0].EventID != a2 {
			t.Fatalf("after parking, the next run of the path: %+v", next)
		}
		if _, err := s.RetryRun(ctx, "mirror", next[0].ID, due); !errors.Is(err, ErrConflict) {
			t.Fatalf("retrying a running run: %v", err)
		}
		if _, err := s.RetryRun(ctx, "mirror", failed[0].ID, due); err != nil {
			t.Fatal(err)
		}
		if r, _ := s.Run(ctx, "mirror", failed[0].ID); r.Status != RunPending || r.Attempts != 0 {
			t.Fatalf("retried run %+v", r)
		}
		atts, n, err := s.Attempts(ctx, "mirror", 10, 0)
		if err != nil || n != 4 || atts[len(atts)-1].StatusCode != 500 {
			t.Fatalf("attempts %d %+v %v", n, atts, err)
		}
		counts, _ := s.RunCounts(ctx, "mirror", tn.ID)
		if counts[RunPending] != 1 || counts[RunRunning] != 1 || counts[RunDone] != 1 {
			t.Fatalf("counts %v", counts)
		}
	})
}

func TestDispatchStopsAtTheHorizon(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		s, _ := openTest(t, driver)
		ctx := context.Background()
		tn, _ := s.CreateTenant(ctx, "one", "default", "/")
		s.EnsureCursors(ctx, []string{"r"})
		var ids []int64
		for _, p := range []string{"/1", "/2", "/3"} {
			id, _ := s.RecordID(ctx, tn.ID, hostapi.Event{Type: hostapi.EventFileUploaded, Path: p})
			ids = append(ids, id)
		}
		rules := []DispatchRule{{Name: "r", Match: all}}
		created, _, err := s.Dispatch(ctx, rules, 100, func(int64, []int64) int64 { return ids[1] })
		if err != nil || created["r"] != 2 {
			t.Fatalf("created %v %v", created, err)
		}
		created, read, _ := s.Dispatch(ctx, rules, 100, noGaps)
		if created["r"] != 1 || read != 1 {
			t.Fatalf("then created %v read %d", created, read)
		}
	})
}

func TestClaimSchedule(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		s, _ := openTest(t, driver)
		ctx := context.Background()
		hourly := func(t time.Time) time.Time { return t.Truncate(time.Hour).Add(time.Hour) }
		t0 := time.Date(2026, 1, 1, 10, 30, 0, 0, time.UTC)
		next, created, err := s.ClaimSchedule(ctx, "clean", t0, hourly)
		if err != nil || created || !next.Equal(t0.Add(30*time.Minute)) {
			t.Fatalf("first: %v %v %v", next, created, err)
		}
		if _, created, _ := s.ClaimSchedule(ctx, "clean", t0.Add(time.Minute), hourly); created {
			t.Fatal("created a run before it was due")
		}
		// Two nodes at the due time: one run.
		at := t0.Add(3 * time.Hour) // down for hours: one catch-up run, not three
		_, c1, _ := s.ClaimSchedule(ctx, "clean", at, hourly)
		_, c2, _ := s.ClaimSchedule(ctx, "clean", at, hourly)
		if !c1 || c2 {
			t.Fatalf("claims %v %v, want exactly one", c1, c2)
		}
		runs, total, _ := s.Runs(ctx, RunFilter{Rule: "clean", Limit: 10})
		if total != 1 || !runs[0].Scheduled() || !runs[0].DueAt.Equal(t0.Add(30*time.Minute)) {
			t.Fatalf("runs %+v", runs)
		}
	})
}

func TestWebhooks(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		s, _ := openTest(t, driver)
		ctx := context.Background()
		t1, _ := s.CreateTenant(ctx, "one", "default", "/")
		t2, _ := s.CreateTenant(ctx, "two", "default", "/two")
		w, err := s.CreateWebhook(ctx, Webhook{TenantID: t1.ID, URL: "http://127.0.0.1/h", Events: []string{"file.uploaded"}, Secret: "s", Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Webhook(ctx, t2.ID, w.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("another tenant's webhook: %v", err)
		}
		w.URL, w.Enabled = "http://127.0.0.1/other", false
		if w, err = s.UpdateWebhook(ctx, w); err != nil || w.URL != "http://127.0.0.1/other" || w.Enabled {
			t.Fatalf("update %+v %v", w, err)
		}
		list, total, _ := s.Webhooks(ctx, t1.ID, 10, 0)
		if total != 1 || list[0].Events[0] != "file.uploaded" {
			t.Fatalf("list %+v", list)
		}
		// Its cursor exists: dispatch works without EnsureCursors.
		s.Record(ctx, t1.ID, hostapi.Event{Type: hostapi.EventFileUploaded, Path: "/x"})
		if created, _, err := s.Dispatch(ctx, []DispatchRule{{Name: WebhookRule(w.ID), Match: all}}, 10, noGaps); err != nil || created[WebhookRule(w.ID)] != 1 {
			t.Fatalf("dispatch %v %v", created, err)
		}
		if err := s.DeleteWebhook(ctx, t1.ID, w.ID); err != nil {
			t.Fatal(err)
		}
		if _, total, _ := s.Runs(ctx, RunFilter{Rule: WebhookRule(w.ID), Limit: 10}); total != 0 {
			t.Fatalf("runs of a deleted webhook: %d", total)
		}
		if err := s.DeleteWebhook(ctx, t1.ID, w.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
	})
}
