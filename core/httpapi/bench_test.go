package httpapi

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"path/filepath"
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

// BenchmarkTree100k measures /api/list/tree over a metadata tree of 100,000 files,
// served in-process and read to the end.
func BenchmarkTree100k(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite", filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	tn, _ := st.CreateTenant(ctx, "bench", "default", "/")
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
