package local_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/filegate/filegate/conformance/storagetest"
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/local"
)

func newStorage(t *testing.T) (*local.Storage, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) hostapi.Storage {
		s, _ := newStorage(t)
		return s
	})
}

func TestOpenConfig(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "created", "here")
	s, err := local.Open(map[string]any{"root": dir})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	s.(io.Closer).Close()
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Errorf("root not created: %v", err)
	}
	for _, cfg := range []map[string]any{nil, {"root": 42}, {"root": ""}, {"root": dir, "other": 1}} {
		_, err := local.Open(cfg)
		if err == nil {
			t.Errorf("Open(%v) succeeded", cfg)
		} else if !strings.Contains(err.Error(), `"root"`) && !strings.Contains(err.Error(), `"other"`) {
			t.Errorf("Open(%v): %v does not name the key", cfg, err)
		}
	}
}

func TestTempFilesHidden(t *testing.T) {
	s, dir := newStorage(t)
	ctx := t.Context()
	u, err := s.Create(ctx, "/f")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(u, "data")
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || !strings.HasPrefix(ents[0].Name(), local.TempPrefix) {
		t.Fatalf("directory holds %v, want one temporary file", ents)
	}
	tmp := "/" + ents[0].Name()
	if _, err := s.Stat(ctx, tmp); !errors.Is(err, hostapi.ErrNotExist) {
		t.Errorf("Stat of the temporary file: %v, want ErrNotExist", err)
	}
	if _, err := s.Open(ctx, tmp, 0); !errors.Is(err, hostapi.ErrNotExist) {
		t.Errorf("Open of the temporary file: %v, want ErrNotExist", err)
	}
	if err := s.Mkdir(ctx, "/"+local.TempPrefix+"x"); err == nil {
		t.Errorf("Mkdir of a reserved name succeeded")
	}
	page, err := s.List(ctx, "/", hostapi.ListOptions{})
	if err != nil || len(page.Entries) != 0 {
		t.Errorf("List = %+v, %v; want nothing", page, err)
	}

	// A crash leaves the temporary file; SweepTemp removes it, and only it.
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", local.TempPrefix+"old"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "sub", "keep"), []byte("x"), 0o644)
	n, err := s.SweepTemp(ctx)
	if err != nil || n != 2 {
		t.Errorf("SweepTemp = %d, %v; want 2", n, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "sub", "keep")); err != nil {
		t.Errorf("SweepTemp removed a regular file: %v", err)
	}
	if err := u.Commit(ctx); err == nil {
		t.Errorf("Commit of a swept upload succeeded")
	}
	if _, err := s.Stat(ctx, "/f"); !errors.Is(err, hostapi.ErrNotExist) {
		t.Errorf("Stat after failed commit: %v, want ErrNotExist", err)
	}
}

func TestWriteAtOutOfOrder(t *testing.T) {
	s, _ := newStorage(t)
	ctx := t.Context()
	u, err := s.Create(ctx, "/f")
	if err != nil {
		t.Fatal(err)
	}
	w := u.(io.WriterAt)
	w.WriteAt([]byte("world"), 6)
	w.WriteAt([]byte("hello "), 0)
	if err := u.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r, _ := s.Open(ctx, "/f", 0)
	defer r.Close()
	if b, _ := io.ReadAll(r); string(b) != "hello world" {
		t.Errorf("content = %q", b)
	}
}

func TestSymlinkOutsideRefused(t *testing.T) {
	s, dir := newStorage(t)
	ctx := t.Context()
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644)
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "link")); err != nil {
		t.Skipf("symlinks unsupported: %v", err)
	}
	os.Symlink(outside, filepath.Join(dir, "dirlink"))
	os.WriteFile(filepath.Join(dir, "inside"), []byte("ok"), 0o644)
	os.Symlink("inside", filepath.Join(dir, "goodlink"))

	for _, name := range []string{"/link", "/dirlink/secret"} {
		if r, err := s.Open(ctx, name, 0); err == nil {
			r.Close()
			t.Errorf("Open(%q) through a symlink leaving the root succeeded", name)
		} else if !errors.Is(err, hostapi.ErrPermission) {
			t.Errorf("Open(%q): %v, want ErrPermission", name, err)
		}
	}
	if _, err := s.Create(ctx, "/dirlink/new"); err == nil {
		t.Errorf("Create through a symlink leaving the root succeeded")
	}
	if _, err := os.Stat(filepath.Join(outside, "new")); err == nil {
		t.Errorf("file written outside the root")
	}
	page, err := s.List(ctx, "/", hostapi.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range page.Entries {
		names = append(names, e.Name)
	}
	if got := strings.Join(names, ","); got != "goodlink,inside" {
		t.Errorf("List = %q, want goodlink,inside (links leaving the root hidden)", got)
	}
}

// TestListLargeFolder pages through a 100,000-entry folder.
func TestListLargeFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("large folder")
	}
	s, dir := newStorage(t)
	const n = 100_000
	for i := range n {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("f%06d", n-1-i)))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	ctx := context.Background()
	opts := hostapi.ListOptions{Limit: 10000}
	seen := 0
	for {
		page, err := s.List(ctx, "/", opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Entries {
			if want := fmt.Sprintf("f%06d", seen); e.Name != want {
				t.Fatalf("entry %d = %q, want %q", seen, e.Name, want)
			}
			seen++
		}
		if page.NextCursor == "" {
			break
		}
		opts.Cursor = page.NextCursor
	}
	if seen != n {
		t.Errorf("listed %d entries, want %d", seen, n)
	}
}

// TestSweepAfterSparesRecentUploads: with sweep_after, a gateway starting on a folder
// other gateways share removes only upload files left untouched that long.
func TestSweepAfterSparesRecentUploads(t *testing.T) {
	dir := t.TempDir()
	b, err := local.Open(map[string]any{"root": dir, "sweep_after": "1h"})
	if err != nil {
		t.Fatal(err)
	}
	s := b.(*local.Storage)
	ctx := context.Background()
	up, err := s.Create(ctx, "/live.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Abort()
	up.Write([]byte("in progress on another node"))
	old := filepath.Join(dir, local.TempPrefix+"stale")
	os.WriteFile(old, []byte("left by a crash"), 0o600)
	past := time.Now().Add(-2 * time.Hour)
	os.Chtimes(old, past, past)
	n, err := s.SweepTemp(ctx)
	if err != nil || n != 1 {
		t.Fatalf("SweepTemp = %d, %v; want the stale file only", n, err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatal("the stale upload file is still there")
	}
	if err := up.Commit(ctx); err != nil {
		t.Fatalf("the live upload was swept: %v", err)
	}
	if _, err := local.Open(map[string]any{"root": dir, "sweep_after": "soon"}); err == nil || !strings.Contains(err.Error(), "sweep_after") {
		t.Fatalf("bad sweep_after: %v", err)
	}
}
