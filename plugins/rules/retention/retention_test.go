package retention_test

import (
	"context"
	"path"
	"slices"
	"testing"
	"time"

	"github.com/filegate/filegate/core/plugin"
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/rules/retention"
	"github.com/filegate/filegate/plugins/storage/memory"
)

// seed creates files in a memory backend, each with its age relative to now and size.
func seed(t *testing.T, s *memory.Storage, now time.Time, files map[string]struct {
	age  time.Duration
	size int
}) {
	t.Helper()
	ctx := context.Background()
	var mkdirs func(d string)
	mkdirs = func(d string) {
		if d != "/" {
			mkdirs(path.Dir(d))
			s.Mkdir(ctx, d)
		}
	}
	for p, f := range files {
		mkdirs(path.Dir(p))
		up, err := s.Create(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		up.Write(make([]byte, f.size))
		if err := up.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Chtimes(ctx, p, now.Add(-f.age)); err != nil {
			t.Fatal(err)
		}
	}
}

func remaining(t *testing.T, s *memory.Storage, paths []string) []string {
	var out []string
	for _, p := range paths {
		if _, err := s.Stat(context.Background(), p); err == nil {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// TestRetentionWithFakeClock runs the plugin through the builtin transport on a clock
// fixed in 2030, so ages are exact: each criterion deletes exactly its files, skip
// patterns protect, and a dry run deletes nothing.
func TestRetentionWithFakeClock(t *testing.T) {
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	type file = struct {
		age  time.Duration
		size int
	}
	files := map[string]file{
		"/cam/a/1.jpg":        {1 * time.Hour, 100},
		"/cam/a/2.jpg":        {2 * time.Hour, 100},
		"/cam/a/3.jpg":        {3 * time.Hour, 100},
		"/cam/a/4.jpg":        {4 * time.Hour, 100},  // beyond keep_last 3 in /cam/a
		"/cam/b/old.jpg":      {800 * time.Hour, 10}, // older than max_age
		"/cam/b/new.jpg":      {30 * time.Minute, 10},
		"/cam/b/x.keep":       {900 * time.Hour, 10},  // skipped by name
		"/cam/evidence/e.jpg": {1000 * time.Hour, 10}, // skipped by path
		"/other/old.jpg":      {5000 * time.Hour, 10}, // outside dirs
		"/big/1.bin":          {1 * time.Hour, 400},
		"/big/2.bin":          {2 * time.Hour, 400},
		"/big/3.bin":          {3 * time.Hour, 400}, // the oldest goes: 1200 > 1000 bytes
	}
	var all []string
	for p := range files {
		all = append(all, p)
	}
	run := func(cfg map[string]any) *memory.Storage {
		t.Helper()
		s := memory.New()
		seed(t, s, now, files)
		p, err := plugin.Load(context.Background(), plugin.Options{
			Name: "cleanup", Plugin: "retention", Allow: []string{"storage:default", "log"}, Config: cfg,
			Builtin: func(string) (hostapi.Plugin, bool) { return retention.Rule{}, true },
			Storage: func(name string) (hostapi.Storage, bool) { return s, name == "default" },
			Clock:   func() time.Time { return now },
		})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close(context.Background())
		if err := p.OnSchedule(context.Background(), hostapi.Run{Rule: "cleanup", Time: now}); err != nil {
			t.Fatal(err)
		}
		return s
	}
	cfg := map[string]any{"dirs": []any{"/cam"}, "max_age": "720h", "keep_last": 3, "skip": []any{"*.keep", "/cam/evidence/*"}}
	s := run(cfg)
	var want []string
	for _, p := range all {
		if p != "/cam/a/4.jpg" && p != "/cam/b/old.jpg" {
			want = append(want, p)
		}
	}
	slices.Sort(want)
	if got := remaining(t, s, all); !slices.Equal(got, want) {
		t.Fatalf("after max_age and keep_last: %v\nwant %v", got, want)
	}

	s = run(map[string]any{"dirs": []any{"/big"}, "max_total_size": "1000B"})
	if got := remaining(t, s, []string{"/big/1.bin", "/big/2.bin", "/big/3.bin"}); !slices.Equal(got, []string{"/big/1.bin", "/big/2.bin"}) {
		t.Fatalf("after max_total_size: %v", got)
	}

	cfg["dry_run"] = true
	s = run(cfg)
	if got := remaining(t, s, all); len(got) != len(all) {
		t.Fatalf("a dry run deleted %d files", len(all)-len(got))
	}
}

func TestRetentionRefusesBadConfig(t *testing.T) {
	for _, cfg := range []map[string]any{
		{}, // no criterion
		{"max_age": "1h", "dirs": []any{"rel"}},
		{"max_total_size": "10 parsecs"},
		{"keep_last": 2, "skip": []any{"[x"}},
	} {
		p, err := plugin.Load(context.Background(), plugin.Options{
			Name: "cleanup", Plugin: "retention", Allow: []string{"storage:default"}, Config: cfg,
			Builtin: func(string) (hostapi.Plugin, bool) { return retention.Rule{}, true },
			Storage: func(string) (hostapi.Storage, bool) { return memory.New(), true },
		})
		if err != nil {
			continue // refused at load: fine too
		}
		if err := p.OnSchedule(context.Background(), hostapi.Run{}); err == nil {
			t.Errorf("config %v accepted", cfg)
		}
	}
}
