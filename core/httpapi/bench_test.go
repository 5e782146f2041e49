package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/filegate/filegate/core/accounts"
	"github.com/filegate/filegate/core/auth"
	"github.com/filegate/filegate/core/store"
	"github.com/filegate/filegate/core/vfs"
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/memory"
	"github.com/valyala/fasthttp"
)

// memFiles serves every caller the same in-memory storage.
type memFiles struct {
	st *store.Store
	b  hostapi.Storage
}

func (m memFiles) FS(ctx context.Context, who accounts.Principal, remote string) (*vfs.FS, error) {
	return vfs.New(m.b, m.st, vfs.Session{TenantID: who.Tenant.ID, TenantRoot: "/", Chroot: who.Account.PathPrefix, Protocol: "http",
		Rights: vfs.Rights{Read: true, List: true, Write: true, Delete: true, Rename: true}}), nil
}

// benchStore opens a SQLite store in a temporary folder, closed when b ends, with one
// tenant.
func benchStore(b *testing.B) (*store.Store, store.Tenant) {
	b.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite", filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	tn, err := st.CreateTenant(ctx, "bench", "default", "/")
	if err != nil {
		b.Fatal(err)
	}
	return st, tn
}

// BenchmarkTree100k measures /api/list/tree over a metadata tree of 100,000 files,
// served in-process and read to the end.
func BenchmarkTree100k(b *testing.B) {
	ctx := context.Background()
	st, tn := benchStore(b)
	entries := make([]store.TreeEntry, 0, 100_000)
	now := time.Now().UnixMilli()
	for i := range 100_000 {
		entries = append(entries, store.TreeEntry{Path: fmt.Sprintf("/d%03d/file-%06d.bin", i%100, i), Type: "file", Size: int64(i), Modified: now,
			SHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Protocol: "sftp", Account: "camera01"})
	}
	if err := st.ReplaceTree(ctx, tn.ID, entries); err != nil {
		b.Fatal(err)
	}
	svc := &accounts.Service{Store: st, Tokens: auth.NewTokens([]byte("bench-key-0123456789abcdef012345"), time.Hour)}
	acct, _, _ := svc.CreateAPIAccount(ctx, tn.ID, nil, accounts.NewAPIAccount{Scopes: auth.AllScopes})
	tok, _, _ := svc.Tokens.Issue(tn.ID, acct.AccessKey, time.Time{})
	mem := memory.New()
	api := New(Options{Accounts: svc, Store: st, Files: memFiles{st: st, b: mem}})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var rc fasthttp.RequestCtx
		rc.Request.SetRequestURI("/api/list/tree?path=/")
		rc.Request.Header.Set("Authorization", "Bearer "+tok)
		api.Handler(&rc)
		w := bufio.NewWriter(io.Discard)
		n, err := io.Copy(w, rc.Response.BodyStream())
		if err != nil || rc.Response.StatusCode() != 200 || n < 100_000*150 {
			b.Fatalf("status %d, %d bytes, %v", rc.Response.StatusCode(), n, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/tree")
}

// appendCursorListJoin is the listing encoder as it was before appendJoinedPath: a
// path.Join per entry, into a buffer allocated per request. Kept as the baseline of
// BenchmarkListEncode.
func appendCursorListJoin(base string, limit int, pg hostapi.ListPage) []byte {
	b := make([]byte, 0, 64+len(pg.Entries)*128)
	b = append(b, `{"data":[`...)
	for i, fi := range pg.Entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendJSONString(b, fi.Name)
		b = append(b, `,"path":`...)
		b = appendJSONString(b, path.Join(base, fi.Name))
		if fi.IsDir {
			b = append(b, `,"type":"dir","size":`...)
		} else {
			b = append(b, `,"type":"file","size":`...)
		}
		b = strconv.AppendInt(b, fi.Size, 10)
		b = append(b, `,"modified":"`...)
		b = fi.ModTime.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, `"}`...)
	}
	b = append(b, `],"limit":`...)
	b = strconv.AppendInt(b, int64(limit), 10)
	b = append(b, `,"next_cursor":`...)
	b = appendJSONString(b, pg.NextCursor)
	return append(b, "}\n"...)
}

// BenchmarkListEncode encodes a page of 1,000 entries into a response body: "join" as
// before (path.Join per entry, a buffer per request), "pooled" as listFiles does now.
func BenchmarkListEncode(b *testing.B) {
	pg := hostapi.ListPage{Entries: make([]hostapi.FileInfo, 1000)}
	mod := time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.UTC)
	for i := range pg.Entries {
		pg.Entries[i] = hostapi.FileInfo{Name: fmt.Sprintf("f%04d.bin", i), Size: 4096, ModTime: mod}
	}
	want := appendCursorListJoin("/list1000", 1000, pg)
	if got := appendCursorList(nil, "/list1000", 1000, pg); !bytes.Equal(got, want) {
		b.Fatalf("encoders differ:\n%s\n%s", got[:200], want[:200])
	}
	var resp fasthttp.Response
	b.Run("join", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			resp.SetBody(appendCursorListJoin("/list1000", 1000, pg))
		}
	})
	b.Run("pooled", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf := listBufs.Get().(*[]byte)
			*buf = appendCursorList((*buf)[:0], "/list1000", 1000, pg)
			resp.SetBody(*buf)
			listBufs.Put(buf)
		}
	})
}
