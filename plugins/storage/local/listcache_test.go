package local

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// newCached returns a Storage on a new folder "d" holding n files of 4 KiB whose
// listing cache sees a clock moved ahead by skew (so a folder just written counts as
// settled when skew > listSettle).
func newCached(t testing.TB, n int, skew time.Duration) (*Storage, string) {
	t.Helper()
	s, root := newDurable(t)
	s.lists.now = func() time.Time { return time.Now().Add(skew) }
	dir := filepath.Join(root, "d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d", i)), make([]byte, 4096), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Timestamps are coarse (a clock tick): let the next change get a later one.
	time.Sleep(30 * time.Millisecond)
	return s, dir
}

// sizes lists /d and returns each entry's size by name.
func sizes(t *testing.T, s *Storage) map[string]int64 {
	t.Helper()
	page, err := s.List(context.Background(), "/d", hostapi.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int64{}
	for _, e := range page.Entries {
		m[e.Name] = e.Size
	}
	return m
}

// TestListCacheSeesFolderChanges: a cached listing is used while the folder is
// unchanged, and any entry created, removed or renamed by another process, any file
// committed through the Storage and any time set through it shows at once.
func TestListCacheSeesFolderChanges(t *testing.T) {
	s, dir := newCached(t, 3, time.Hour)
	ctx := t.Context()
	if got := sizes(t, s); len(got) != 3 {
		t.Fatalf("listed %v", got)
	}
	if n := len(s.lists.pages); n != 1 {
		t.Fatalf("%d pages cached, want 1", n)
	}
	// A file rewritten in place by another process changes nothing in its folder:
	// the cached page is served (within listTTL; see the rule in listcache.go).
	if err := os.WriteFile(filepath.Join(dir, "f0000"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := sizes(t, s)["f0000"]; got != 4096 {
		t.Fatalf("size %d: the page was not served from the cache", got)
	}
	steps := []struct {
		name   string
		change func() error
		check  func(map[string]int64) bool
	}{
		{"external create", func() error { return os.WriteFile(filepath.Join(dir, "new"), nil, 0o644) },
			func(m map[string]int64) bool { _, ok := m["new"]; return ok }},
		{"external remove", func() error { return os.Remove(filepath.Join(dir, "f0001")) },
			func(m map[string]int64) bool { _, ok := m["f0001"]; return !ok }},
		{"external rename", func() error { return os.Rename(filepath.Join(dir, "f0002"), filepath.Join(dir, "g")) },
			func(m map[string]int64) bool { _, ok := m["g"]; return ok }},
		{"commit", func() error {
			u, err := s.Create(ctx, "/d/up")
			if err != nil {
				return err
			}
			u.Write([]byte("12345"))
			return u.Commit(ctx)
		}, func(m map[string]int64) bool { return m["up"] == 5 }},
	}
	for _, st := range steps {
		sizes(t, s) // cache the current state
		time.Sleep(30 * time.Millisecond)
		if err := st.change(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := sizes(t, s); !st.check(got) {
			t.Errorf("%s: not seen: %v", st.name, got)
		}
	}
	// Chtimes through the Storage drops the folder's pages.
	sizes(t, s)
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := s.Chtimes(ctx, "/d/g", mtime); err != nil {
		t.Fatal(err)
	}
	page, err := s.List(ctx, "/d", hostapi.ListOptions{Prefix: "g"})
	if err != nil || len(page.Entries) != 1 || !page.Entries[0].ModTime.Equal(mtime) {
		t.Errorf("after Chtimes: %+v, %v", page.Entries, err)
	}
	sizes(t, s)
	if err := s.Chtimes(ctx, "/d/g", mtime.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	page, _ = s.List(ctx, "/d", hostapi.ListOptions{})
	for _, e := range page.Entries {
		if e.Name == "g" && !e.ModTime.Equal(mtime.Add(time.Hour)) {
			t.Errorf("after Chtimes: cached time %v", e.ModTime)
		}
	}
}

// TestListCacheExpires: a file changed in place by another process is seen once the
// page is older than listTTL.
func TestListCacheExpires(t *testing.T) {
	s, dir := newCached(t, 2, time.Hour)
	now := time.Now().Add(time.Hour)
	s.lists.now = func() time.Time { return now }
	sizes(t, s)
	if err := os.WriteFile(filepath.Join(dir, "f0000"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := sizes(t, s)["f0000"]; got != 4096 {
		t.Fatalf("size %d before listTTL: not served from the cache", got)
	}
	now = now.Add(listTTL)
	if got := sizes(t, s)["f0000"]; got != 1 {
		t.Errorf("size %d after listTTL, want 1", got)
	}
}

// TestListCacheSkipsUnsettledFolders: a folder changed less than listSettle ago is
// not cached, so a change within the same timestamp tick cannot be missed.
func TestListCacheSkipsUnsettledFolders(t *testing.T) {
	s, dir := newCached(t, 2, 0)
	sizes(t, s)
	if n := len(s.lists.pages); n != 0 {
		t.Fatalf("%d pages cached of a folder changed just now", n)
	}
	if err := os.WriteFile(filepath.Join(dir, "f0000"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := sizes(t, s)["f0000"]; got != 1 {
		t.Errorf("size %d, want 1", got)
	}
}

// TestListCacheBounded: the cache never holds more than listMaxKept entries, and
// callers get their own copy of a cached page.
func TestListCacheBounded(t *testing.T) {
	c := newListCache()
	c.now = func() time.Time { return time.Now().Add(time.Hour) }
	page := hostapi.ListPage{Entries: make([]hostapi.FileInfo, listMaxKept/3+1)}
	for i := range 10 {
		c.put(listKey{dir: fmt.Sprint(i)}, dirStamp{}, page)
		if c.kept > listMaxKept {
			t.Fatalf("%d entries kept, bound %d", c.kept, listMaxKept)
		}
	}
	got, ok := c.get(listKey{dir: "9"}, dirStamp{})
	if !ok {
		t.Fatal("the last page put is not cached")
	}
	got.Entries[0].Name = "changed"
	if again, _ := c.get(listKey{dir: "9"}, dirStamp{}); again.Entries[0].Name != "" {
		t.Error("a caller's change reached the cache")
	}
	c.forget("9")
	if _, ok := c.get(listKey{dir: "9"}, dirStamp{}); ok {
		t.Error("forgotten page served")
	}
}

// BenchmarkList lists a folder of 1,000 files: "uncached" reads it every time (a
// stat per entry here), "cached" answers after one stat of the folder.
func BenchmarkList(b *testing.B) {
	for _, cached := range []bool{false, true} {
		b.Run(map[bool]string{false: "uncached", true: "cached"}[cached], func(b *testing.B) {
			s, _ := newCached(b, 1000, time.Hour)
			if !cached {
				s.lists = nil
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				page, err := s.List(ctx, "/d", hostapi.ListOptions{})
				if err != nil || len(page.Entries) != 1000 {
					b.Fatal(len(page.Entries), err)
				}
			}
		})
	}
}
