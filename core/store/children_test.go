package store

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/filegate/filegate/core/store/storetest"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// listAll pages through ListChildren with opts and returns "name:kind" entries.
func listAll(t *testing.T, s *Store, tenant int64, dir string, opts hostapi.ListOptions) string {
	t.Helper()
	var out []string
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("ListChildren never ends")
		}
		page, err := s.ListChildren(context.Background(), tenant, dir, opts)
		if err != nil {
			t.Fatalf("ListChildren(%q, %+v): %v", dir, opts, err)
		}
		if opts.Limit > 0 && len(page.Entries) > opts.Limit {
			t.Fatalf("page of %d entries, limit %d", len(page.Entries), opts.Limit)
		}
		for _, e := range page.Entries {
			kind := "file"
			if e.IsDir {
				kind = "dir"
			}
			out = append(out, e.Name+":"+kind)
		}
		if opts.Cursor = page.NextCursor; opts.Cursor == "" {
			return strings.Join(out, " ")
		}
	}
}

func TestListChildren(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		s, _ := openTest(t, driver)
		ctx := context.Background()
		t1, _ := s.CreateTenant(ctx, "one", "default", "/")
		t2, _ := s.CreateTenant(ctx, "two", "default", "/two")
		rec := func(tenant int64, typ, p string) {
			t.Helper()
			if err := s.Record(ctx, tenant, hostapi.Event{Type: typ, Path: p, Protocol: "sftp", Account: "a", Size: 7}); err != nil {
				t.Fatal(err)
			}
		}
		// "x-1" and "x.txt" sort between the folder "x" and its descendants "x/...".
		for _, p := range []string{"/d/x/deep/1", "/d/x/deep/2", "/d/x/3", "/d/x-1", "/d/x.txt", "/d/a", "/d/y/4", "/d/z", "/e"} {
			rec(t1.ID, hostapi.EventFileUploaded, p)
		}
		rec(t1.ID, hostapi.EventDirCreated, "/d/empty")
		rec(t2.ID, hostapi.EventFileUploaded, "/d/other")

		const all = "a:file empty:dir x:dir x-1:file x.txt:file y:dir z:file"
		for limit := range 9 {
			if got := listAll(t, s, t1.ID, "/d", hostapi.ListOptions{Limit: limit}); got != all {
				t.Errorf("limit %d: %s, want %s", limit, got, all)
			}
		}
		for _, tc := range []struct {
			opts hostapi.ListOptions
			want string
		}{
			{hostapi.ListOptions{Prefix: "x"}, "x:dir x-1:file x.txt:file"},
			{hostapi.ListOptions{Prefix: "x", Limit: 1}, "x:dir x-1:file x.txt:file"},
			{hostapi.ListOptions{DirsOnly: true, Limit: 1}, "empty:dir x:dir y:dir"},
			{hostapi.ListOptions{FilesOnly: true, Limit: 2}, "a:file x-1:file x.txt:file z:file"},
		} {
			if got := listAll(t, s, t1.ID, "/d", tc.opts); got != tc.want {
				t.Errorf("%+v: %s, want %s", tc.opts, got, tc.want)
			}
		}
		if got := listAll(t, s, t1.ID, "/", hostapi.ListOptions{}); got != "d:dir e:file" {
			t.Errorf("root: %s", got)
		}
		if got := listAll(t, s, t1.ID, "/d/empty", hostapi.ListOptions{}); got != "" {
			t.Errorf("empty folder: %s", got)
		}
		if got := listAll(t, s, t2.ID, "/d", hostapi.ListOptions{}); got != "other:file" {
			t.Errorf("second tenant: %s", got)
		}
		if _, err := s.ListChildren(ctx, t1.ID, "/missing", hostapi.ListOptions{}); !errors.Is(err, hostapi.ErrNotExist) {
			t.Errorf("missing folder: %v", err)
		}
		if _, err := s.ListChildren(ctx, t1.ID, "/e", hostapi.ListOptions{}); !errors.Is(err, hostapi.ErrNotDir) {
			t.Errorf("a file: %v", err)
		}
	})
}

// BenchmarkListChildren10k lists a folder of 10,000 files, each next to a folder
// holding 10 more, in pages of 1,000.
func BenchmarkListChildren10k(b *testing.B) {
	s, tn := benchStore(b)
	ctx := context.Background()
	entries := []TreeEntry{{Path: "/big", Type: "dir"}}
	for i := range 10000 {
		entries = append(entries, TreeEntry{Path: fmt.Sprintf("/big/f%05d", i), Type: "file", Size: 1})
	}
	for i := range 100 {
		entries = append(entries, TreeEntry{Path: fmt.Sprintf("/big/sub%03d", i), Type: "dir"})
		for j := range 10 {
			entries = append(entries, TreeEntry{Path: fmt.Sprintf("/big/sub%03d/g%d", i, j), Type: "file"})
		}
	}
	if err := s.ReplaceTree(ctx, tn.ID, entries); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		n, opts := 0, hostapi.ListOptions{Limit: 1000}
		for {
			page, err := s.ListChildren(ctx, tn.ID, "/big", opts)
			if err != nil {
				b.Fatal(err)
			}
			n += len(page.Entries)
			if opts.Cursor = page.NextCursor; opts.Cursor == "" {
				break
			}
		}
		if n != 10100 {
			b.Fatalf("%d entries, want 10100", n)
		}
	}
}

// BenchmarkRecordUpload records file.uploaded events of new files in one folder, as a
// recursive upload of small files does: the event, the folder and the file in the tree,
// in one transaction per event.
func BenchmarkRecordUpload(b *testing.B) {
	s, tn := benchStore(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		ev := hostapi.Event{Type: hostapi.EventFileUploaded, Path: fmt.Sprintf("/many/f%06d.bin", i), Size: 4096,
			SHA256: "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef", Protocol: "sftp", Account: "bench", RemoteAddr: "127.0.0.1:40000"}
		if err := s.Record(ctx, tn.ID, ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecordParallel records file.uploaded events from 8 goroutines at once, as
// many clients uploading small files do.
func BenchmarkRecordParallel(b *testing.B) {
	s, tn := benchStore(b)
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0))) // 8 goroutines on 2 cores
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ev := hostapi.Event{Type: hostapi.EventFileUploaded, Path: fmt.Sprintf("/many/f%06d.bin", n.Add(1)), Size: 4096,
				SHA256: "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef", Protocol: "sftp", Account: "bench", RemoteAddr: "127.0.0.1:40000"}
			if err := s.Record(ctx, tn.ID, ev); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// benchStore opens a new SQLite store, closed when b ends, with one tenant.
func benchStore(b *testing.B) (*Store, Tenant) {
	s, err := Open(context.Background(), "sqlite", storetest.DSN(b, "sqlite"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	tn, err := s.CreateTenant(context.Background(), "bench", "default", "/")
	if err != nil {
		b.Fatal(err)
	}
	return s, tn
}

// BenchmarkRequestLookups reads what every REST API request reads to check its bearer
// token (accounts.Service.Verify): the REST API account by AccessKey and its tenant.
func BenchmarkRequestLookups(b *testing.B) {
	s, tn := benchStore(b)
	ctx := context.Background()
	a, err := s.CreateAPIAccount(ctx, APIAccount{TenantID: tn.ID, AccessKey: "AK_bench", SecretHash: "x", Scopes: []string{"*"}})
	if err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			got, err := s.APIAccountByKey(ctx, a.AccessKey)
			if err != nil || got.ID != a.ID {
				b.Fatalf("APIAccountByKey = %+v, %v", got, err)
			}
			if t, err := s.Tenant(ctx, got.TenantID); err != nil || t.ID != tn.ID {
				b.Fatalf("Tenant = %+v, %v", t, err)
			}
		}
	})
}
