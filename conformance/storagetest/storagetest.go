// Package storagetest is the semantic test suite every hostapi.Storage must pass: the
// first-party backends, and any storage plugin whatever its transport.
//
// In a Go test, call Run. Elsewhere (a command-line conformance runner), iterate over
// Cases and call Check with a fresh, empty Storage for each.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// TB is the part of testing.TB the cases use, so that they can run outside go test.
// Fatalf must stop the case (testing.T does it with runtime.Goexit).
type TB interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Context() context.Context
}

// Case is one conformance test. Run gets a fresh, empty Storage.
type Case struct {
	Name string
	Run  func(t TB, s hostapi.Storage)
}

// Cases returns the conformance cases in a stable order.
func Cases() []Case {
	return []Case{
		{"StatRoot", testStatRoot},
		{"CreateCommit", testCreateCommit},
		{"NotVisibleBeforeCommit", testNotVisibleBeforeCommit},
		{"AbortKeepsPrevious", testAbortKeepsPrevious},
		{"OpenOffset", testOpenOffset},
		{"LargeFile", testLargeFile},
		{"OpenErrors", testOpenErrors},
		{"CreateErrors", testCreateErrors},
		{"ListSortedPaged", testListSortedPaged},
		{"ListFilters", testListFilters},
		{"ListErrors", testListErrors},
		{"Mkdir", testMkdir},
		{"RenameFile", testRenameFile},
		{"RenameReplacesFile", testRenameReplacesFile},
		{"RenameFolder", testRenameFolder},
		{"Remove", testRemove},
		{"ConcurrentUploads", testConcurrentUploads},
		{"Chtimes", testChtimes},
	}
}

// Run runs every case as a subtest, each on a Storage from newStorage.
func Run(t *testing.T, newStorage func(t *testing.T) hostapi.Storage) {
	for _, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) {
			c.Run(t, newStorage(t))
		})
	}
}

// Check runs one case outside go test and returns its failures joined, or nil.
func Check(ctx context.Context, c Case, s hostapi.Storage) error {
	r := &recorder{ctx: ctx}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if v := recover(); v != nil {
				r.Errorf("panic: %v", v)
			}
		}()
		c.Run(r, s)
	}()
	<-done
	r.mu.Lock()
	defer r.mu.Unlock()
	return errors.Join(r.errs...)
}

// recorder is the TB that Check uses.
type recorder struct {
	ctx  context.Context
	mu   sync.Mutex
	errs []error
}

func (r *recorder) Helper()                           {}
func (r *recorder) Logf(format string, args ...any)   {}
func (r *recorder) Context() context.Context          { return r.ctx }
func (r *recorder) Errorf(format string, args ...any) { r.add(fmt.Errorf(format, args...)) }
func (r *recorder) Fatalf(format string, args ...any) {
	r.add(fmt.Errorf(format, args...))
	runtime.Goexit()
}

func (r *recorder) add(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

// put writes a whole file and commits it.
func put(t TB, s hostapi.Storage, name, content string) {
	t.Helper()
	u, err := s.Create(t.Context(), name)
	if err != nil {
		t.Fatalf("Create(%q): %v", name, err)
	}
	if _, err := io.WriteString(u, content); err != nil {
		u.Abort()
		t.Fatalf("Write(%q): %v", name, err)
	}
	if err := u.Commit(t.Context()); err != nil {
		t.Fatalf("Commit(%q): %v", name, err)
	}
}

// mkdir creates a folder.
func mkdir(t TB, s hostapi.Storage, name string) {
	t.Helper()
	if err := s.Mkdir(t.Context(), name); err != nil {
		t.Fatalf("Mkdir(%q): %v", name, err)
	}
}

// read returns the content of a file from offset.
func read(t TB, s hostapi.Storage, name string, offset int64) string {
	t.Helper()
	r, err := s.Open(t.Context(), name, offset)
	if err != nil {
		t.Fatalf("Open(%q, %d): %v", name, offset, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %q: %v", name, err)
	}
	return string(b)
}

// wantContent checks the content of a file.
func wantContent(t TB, s hostapi.Storage, name, want string) {
	t.Helper()
	if got := read(t, s, name, 0); got != want {
		t.Errorf("content of %q = %q, want %q", name, got, want)
	}
}

// wantErr checks that err matches target.
func wantErr(t TB, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
}

// wantMissing checks that nothing is at name.
func wantMissing(t TB, s hostapi.Storage, name string) {
	t.Helper()
	_, err := s.Stat(t.Context(), name)
	wantErr(t, fmt.Sprintf("Stat(%q)", name), err, hostapi.ErrNotExist)
}

// listAll lists every entry of dir, page by page, and returns their names.
func listAll(t TB, s hostapi.Storage, dir string, opts hostapi.ListOptions) []string {
	t.Helper()
	var names []string
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatalf("List(%q): cursor never ends", dir)
		}
		page, err := s.List(t.Context(), dir, opts)
		if err != nil {
			t.Fatalf("List(%q, %+v): %v", dir, opts, err)
		}
		if opts.Limit > 0 && len(page.Entries) > opts.Limit {
			t.Fatalf("List(%q): %d entries, limit %d", dir, len(page.Entries), opts.Limit)
		}
		for _, e := range page.Entries {
			names = append(names, e.Name)
		}
		if page.NextCursor == "" {
			return names
		}
		opts.Cursor = page.NextCursor
	}
}

func testStatRoot(t TB, s hostapi.Storage) {
	fi, err := s.Stat(t.Context(), "/")
	if err != nil {
		t.Fatalf("Stat(/): %v", err)
	}
	if !fi.IsDir || fi.Name != "" {
		t.Errorf("Stat(/) = %+v, want a folder named \"\"", fi)
	}
	if names := listAll(t, s, "/", hostapi.ListOptions{}); len(names) != 0 {
		t.Errorf("new storage lists %q, want nothing", names)
	}
}

func testCreateCommit(t TB, s hostapi.Storage) {
	put(t, s, "/a.txt", "hello")
	fi, err := s.Stat(t.Context(), "/a.txt")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if fi.Name != "a.txt" || fi.Size != 5 || fi.IsDir || fi.ModTime.IsZero() {
		t.Errorf("Stat(/a.txt) = %+v, want file a.txt of 5 bytes with a time", fi)
	}
	wantContent(t, s, "/a.txt", "hello")
	put(t, s, "/empty", "")
	wantContent(t, s, "/empty", "")
	if got := listAll(t, s, "/", hostapi.ListOptions{}); strings.Join(got, ",") != "a.txt,empty" {
		t.Errorf("List(/) = %q, want [a.txt empty]", got)
	}
	u, err := s.Create(t.Context(), "/b")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := u.Commit(t.Context()); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if err := u.Abort(); err != nil {
		t.Errorf("Abort after Commit: %v, want nil", err)
	}
	wantContent(t, s, "/b", "")
}

func testNotVisibleBeforeCommit(t TB, s hostapi.Storage) {
	ctx := t.Context()
	u, err := s.Create(ctx, "/new")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	io.WriteString(u, "partial")
	wantMissing(t, s, "/new")
	if _, err := s.Open(ctx, "/new", 0); !errors.Is(err, hostapi.ErrNotExist) {
		t.Errorf("Open during upload: %v, want ErrNotExist", err)
	}
	if names := listAll(t, s, "/", hostapi.ListOptions{}); len(names) != 0 {
		t.Errorf("List during upload = %q, want nothing", names)
	}
	if err := u.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	wantContent(t, s, "/new", "partial")

	u, err = s.Create(ctx, "/new")
	if err != nil {
		t.Fatalf("Create over existing: %v", err)
	}
	io.WriteString(u, "second version")
	wantContent(t, s, "/new", "partial")
	if fi, err := s.Stat(ctx, "/new"); err != nil || fi.Size != 7 {
		t.Errorf("Stat during upload = %+v, %v; want the previous 7 bytes", fi, err)
	}
	if names := listAll(t, s, "/", hostapi.ListOptions{}); strings.Join(names, ",") != "new" {
		t.Errorf("List during upload = %q, want [new]", names)
	}
	if err := u.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	wantContent(t, s, "/new", "second version")
}

func testAbortKeepsPrevious(t TB, s hostapi.Storage) {
	ctx := t.Context()
	put(t, s, "/f", "v1")
	u, err := s.Create(ctx, "/f")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	io.WriteString(u, "v2 is longer")
	if err := u.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if err := u.Abort(); err != nil {
		t.Errorf("second Abort: %v, want nil", err)
	}
	if err := u.Commit(ctx); err == nil {
		t.Errorf("Commit after Abort succeeded")
	}
	wantContent(t, s, "/f", "v1")

	u, err = s.Create(ctx, "/g")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	io.WriteString(u, "never")
	if err := u.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	wantMissing(t, s, "/g")
	if names := listAll(t, s, "/", hostapi.ListOptions{}); strings.Join(names, ",") != "f" {
		t.Errorf("List after aborts = %q, want [f]", names)
	}
}

func testOpenOffset(t TB, s hostapi.Storage) {
	put(t, s, "/digits", "0123456789")
	for _, tc := range []struct {
		offset int64
		want   string
	}{{0, "0123456789"}, {4, "456789"}, {9, "9"}, {10, ""}} {
		if got := read(t, s, "/digits", tc.offset); got != tc.want {
			t.Errorf("Open at %d read %q, want %q", tc.offset, got, tc.want)
		}
	}
}

// testLargeFile writes a file of several MiB in writes of odd sizes and reads it back
// from offsets inside and across the chunks a plugin transport moves (64 KiB to 1 MiB),
// in reads of odd sizes.
func testLargeFile(t TB, s hostapi.Storage) {
	ctx := t.Context()
	const size = 3<<20 + 12345
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i>>16)
	}
	u, err := s.Create(ctx, "/large")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	for rest, step := data, 1; len(rest) > 0; step = step*3 + 1 {
		k := min(len(rest), step%(700<<10)+1)
		if _, err := u.Write(rest[:k]); err != nil {
			u.Abort()
			t.Fatalf("Write: %v", err)
		}
		rest = rest[k:]
	}
	if err := u.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if fi, err := s.Stat(ctx, "/large"); err != nil || fi.Size != size {
		t.Fatalf("Stat = %+v, %v; want %d bytes", fi, err, size)
	}
	for _, off := range []int64{0, 64<<10 - 1, 1 << 20, 2<<20 + 777, size - 1, size} {
		r, err := s.Open(ctx, "/large", off)
		if err != nil {
			t.Fatalf("Open at %d: %v", off, err)
		}
		var got []byte
		buf := make([]byte, 100<<10+3)
		for {
			n, err := r.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				r.Close()
				t.Fatalf("read from %d: %v", off, err)
			}
		}
		r.Close()
		if !bytes.Equal(got, data[off:]) {
			t.Errorf("read from %d: %d bytes, want the file's last %d (first difference at %d)",
				off, len(got), size-off, firstDiff(got, data[off:]))
		}
	}
	// A reader closed early, then another upload and read: nothing is left in use.
	r, err := s.Open(ctx, "/large", 0)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := io.ReadFull(r, make([]byte, 200<<10)); err != nil {
		t.Errorf("read: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close of a reader half read: %v", err)
	}
	put(t, s, "/large", "small now")
	wantContent(t, s, "/large", "small now")
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func testOpenErrors(t TB, s hostapi.Storage) {
	ctx := t.Context()
	mkdir(t, s, "/d")
	put(t, s, "/f", "x")
	for _, tc := range []struct {
		name string
		want error
	}{
		{"/missing", hostapi.ErrNotExist},
		{"/d/missing", hostapi.ErrNotExist},
		{"/d", hostapi.ErrIsDir},
		{"/", hostapi.ErrIsDir},
	} {
		r, err := s.Open(ctx, tc.name, 0)
		if err == nil {
			r.Close()
		}
		wantErr(t, fmt.Sprintf("Open(%q)", tc.name), err, tc.want)
	}
	if _, err := s.Stat(ctx, "/f/x"); err == nil {
		t.Errorf("Stat below a file succeeded")
	}
}

// createErr creates, writes and commits name, and returns the first error.
func createErr(ctx context.Context, s hostapi.Storage, name string) error {
	u, err := s.Create(ctx, name)
	if err != nil {
		return err
	}
	io.WriteString(u, "data")
	if err := u.Commit(ctx); err != nil {
		u.Abort()
		return err
	}
	return nil
}

func testCreateErrors(t TB, s hostapi.Storage) {
	ctx := t.Context()
	mkdir(t, s, "/d")
	put(t, s, "/f", "x")
	wantErr(t, "Create with a missing parent", createErr(ctx, s, "/missing/f"), hostapi.ErrNotExist)
	wantErr(t, "Create over a folder", createErr(ctx, s, "/d"), hostapi.ErrIsDir)
	if err := createErr(ctx, s, "/f/x"); err == nil {
		t.Errorf("Create below a file succeeded")
	}
	wantMissing(t, s, "/missing")
}

func testListSortedPaged(t TB, s hostapi.Storage) {
	var want []string
	for i := range 23 {
		name := fmt.Sprintf("f%02d", 22-i) // created out of order
		put(t, s, "/"+name, name)
	}
	for i := range 5 {
		mkdir(t, s, fmt.Sprintf("/d%d", i))
	}
	for i := range 5 {
		want = append(want, fmt.Sprintf("d%d", i))
	}
	for i := range 23 {
		want = append(want, fmt.Sprintf("f%02d", i))
	}
	for _, limit := range []int{0, 1, 7, 28, 100} {
		got := listAll(t, s, "/", hostapi.ListOptions{Limit: limit})
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("List with limit %d = %q, want %q", limit, got, want)
		}
	}
	page, err := s.List(t.Context(), "/", hostapi.ListOptions{Limit: 28})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(page.Entries) != 28 {
		t.Errorf("List with limit 28 returned %d entries", len(page.Entries))
	}
	if page.NextCursor != "" {
		page, err = s.List(t.Context(), "/", hostapi.ListOptions{Limit: 28, Cursor: page.NextCursor})
		if err != nil || len(page.Entries) != 0 || page.NextCursor != "" {
			t.Errorf("page after the last = %+v, %v; want empty", page, err)
		}
	}
	page, err = s.List(t.Context(), "/", hostapi.ListOptions{Prefix: "f1"})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, e := range page.Entries {
		if e.IsDir || e.Size != 3 || e.ModTime.IsZero() {
			t.Errorf("entry %+v: want a 3-byte file with a time", e)
		}
	}
}

func testListFilters(t TB, s hostapi.Storage) {
	for _, d := range []string{"/a1", "/a2", "/b1"} {
		mkdir(t, s, d)
	}
	for _, f := range []string{"/a3", "/a4", "/b2", "/a2/inner"} {
		put(t, s, f, "x")
	}
	for _, tc := range []struct {
		opts hostapi.ListOptions
		want string
	}{
		{hostapi.ListOptions{}, "a1,a2,a3,a4,b1,b2"},
		{hostapi.ListOptions{Prefix: "a"}, "a1,a2,a3,a4"},
		{hostapi.ListOptions{Prefix: "a", Limit: 1}, "a1,a2,a3,a4"},
		{hostapi.ListOptions{Prefix: "zz"}, ""},
		{hostapi.ListOptions{DirsOnly: true}, "a1,a2,b1"},
		{hostapi.ListOptions{DirsOnly: true, Limit: 2}, "a1,a2,b1"},
		{hostapi.ListOptions{FilesOnly: true, Limit: 1}, "a3,a4,b2"},
		{hostapi.ListOptions{FilesOnly: true, Prefix: "b"}, "b2"},
	} {
		if got := strings.Join(listAll(t, s, "/", tc.opts), ","); got != tc.want {
			t.Errorf("List(/, %+v) = %q, want %q", tc.opts, got, tc.want)
		}
	}
	if got := strings.Join(listAll(t, s, "/a2", hostapi.ListOptions{}), ","); got != "inner" {
		t.Errorf("List(/a2) = %q, want inner", got)
	}
}

func testListErrors(t TB, s hostapi.Storage) {
	ctx := t.Context()
	put(t, s, "/f", "x")
	_, err := s.List(ctx, "/missing", hostapi.ListOptions{})
	wantErr(t, "List of a missing folder", err, hostapi.ErrNotExist)
	_, err = s.List(ctx, "/f", hostapi.ListOptions{})
	wantErr(t, "List of a file", err, hostapi.ErrNotDir)
	_, err = s.List(ctx, "/", hostapi.ListOptions{Cursor: "!not a cursor!"})
	if err == nil {
		t.Errorf("List with a garbage cursor succeeded")
	}
}

func testMkdir(t TB, s hostapi.Storage) {
	ctx := t.Context()
	mkdir(t, s, "/d")
	mkdir(t, s, "/d/e")
	fi, err := s.Stat(ctx, "/d/e")
	if err != nil || !fi.IsDir || fi.Name != "e" || fi.Size != 0 {
		t.Errorf("Stat(/d/e) = %+v, %v; want folder e", fi, err)
	}
	put(t, s, "/f", "x")
	wantErr(t, "Mkdir of an existing folder", s.Mkdir(ctx, "/d"), hostapi.ErrExist)
	wantErr(t, "Mkdir over a file", s.Mkdir(ctx, "/f"), hostapi.ErrExist)
	wantErr(t, "Mkdir with a missing parent", s.Mkdir(ctx, "/missing/x"), hostapi.ErrNotExist)
	wantErr(t, "Mkdir below a file", s.Mkdir(ctx, "/f/x"), hostapi.ErrNotDir)
	wantErr(t, "Mkdir of the root", s.Mkdir(ctx, "/"), hostapi.ErrExist)
	wantMissing(t, s, "/missing")
}

func testRenameFile(t TB, s hostapi.Storage) {
	ctx := t.Context()
	mkdir(t, s, "/d")
	put(t, s, "/a", "content")
	if err := s.Rename(ctx, "/a", "/d/b"); err != nil {
		t.Fatalf("Rename: %v", err)
	}
	wantMissing(t, s, "/a")
	wantContent(t, s, "/d/b", "content")
	wantErr(t, "Rename of a missing file", s.Rename(ctx, "/a", "/c"), hostapi.ErrNotExist)
	wantErr(t, "Rename to a missing parent", s.Rename(ctx, "/d/b", "/missing/b"), hostapi.ErrNotExist)
	wantContent(t, s, "/d/b", "content")
	mkdir(t, s, "/e")
	wantErr(t, "Rename of a file over a folder", s.Rename(ctx, "/d/b", "/e"), hostapi.ErrIsDir)
	if err := s.Rename(ctx, "/d/b", "/d/b"); err != nil {
		t.Errorf("Rename onto itself: %v", err)
	}
	wantContent(t, s, "/d/b", "content")
}

func testRenameReplacesFile(t TB, s hostapi.Storage) {
	put(t, s, "/a", "new")
	put(t, s, "/b", "old content")
	if err := s.Rename(t.Context(), "/a", "/b"); err != nil {
		t.Fatalf("Rename: %v", err)
	}
	wantMissing(t, s, "/a")
	wantContent(t, s, "/b", "new")
}

func testRenameFolder(t TB, s hostapi.Storage) {
	ctx := t.Context()
	mkdir(t, s, "/d")
	mkdir(t, s, "/d/sub")
	put(t, s, "/d/x", "x")
	put(t, s, "/d/sub/y", "y")
	if err := s.Rename(ctx, "/d", "/e"); err != nil {
		t.Fatalf("Rename: %v", err)
	}
	wantMissing(t, s, "/d")
	wantContent(t, s, "/e/x", "x")
	wantContent(t, s, "/e/sub/y", "y")
	if err := s.Rename(ctx, "/e", "/e"); err != nil {
		t.Errorf("Rename of a folder onto itself: %v", err)
	}
	wantContent(t, s, "/e/x", "x")
	mkdir(t, s, "/empty")
	if err := s.Rename(ctx, "/empty", "/empty"); err != nil {
		t.Errorf("Rename of an empty folder onto itself: %v", err)
	}
	if fi, err := s.Stat(ctx, "/empty"); err != nil || !fi.IsDir {
		t.Errorf("Stat(/empty) after renaming onto itself = %+v, %v", fi, err)
	}
	mkdir(t, s, "/e2")
	if err := s.Rename(ctx, "/e", "/e2"); err != nil {
		t.Fatalf("Rename of a folder over an empty folder: %v", err)
	}
	wantContent(t, s, "/e2/x", "x")
	if err := s.Rename(ctx, "/e2", "/e"); err != nil {
		t.Fatalf("Rename back: %v", err)
	}
	if err := s.Rename(ctx, "/e", "/e/sub/inside"); err == nil {
		t.Errorf("Rename of a folder into itself succeeded")
	}
	mkdir(t, s, "/full")
	put(t, s, "/full/z", "z")
	wantErr(t, "Rename over a non-empty folder", s.Rename(ctx, "/e", "/full"), hostapi.ErrNotEmpty)
	wantContent(t, s, "/e/sub/y", "y")
	wantContent(t, s, "/full/z", "z")
}

func testRemove(t TB, s hostapi.Storage) {
	ctx := t.Context()
	put(t, s, "/f", "x")
	mkdir(t, s, "/empty")
	mkdir(t, s, "/full")
	put(t, s, "/full/z", "z")
	if err := s.Remove(ctx, "/f"); err != nil {
		t.Errorf("Remove of a file: %v", err)
	}
	wantMissing(t, s, "/f")
	if err := s.Remove(ctx, "/empty"); err != nil {
		t.Errorf("Remove of an empty folder: %v", err)
	}
	wantMissing(t, s, "/empty")
	wantErr(t, "Remove of a non-empty folder", s.Remove(ctx, "/full"), hostapi.ErrNotEmpty)
	wantContent(t, s, "/full/z", "z")
	wantErr(t, "Remove of a missing file", s.Remove(ctx, "/f"), hostapi.ErrNotExist)
	if err := s.Remove(ctx, "/"); err == nil {
		t.Errorf("Remove of the root succeeded")
	}
}

func testConcurrentUploads(t TB, s hostapi.Storage) {
	ctx := t.Context()
	const n, size = 16, 256 << 10
	content := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i)}, size) }
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf("/c%02d", i)
			u, err := s.Create(ctx, name)
			if err != nil {
				t.Errorf("Create(%q): %v", name, err)
				return
			}
			data := content(i)
			for len(data) > 0 { // several writes, interleaved with the other uploads
				k := min(len(data), 32<<10)
				if _, err := u.Write(data[:k]); err != nil {
					u.Abort()
					t.Errorf("Write(%q): %v", name, err)
					return
				}
				data = data[k:]
				runtime.Gosched()
			}
			if err := u.Commit(ctx); err != nil {
				t.Errorf("Commit(%q): %v", name, err)
			}
		})
	}
	wg.Wait()
	for i := range n {
		name := fmt.Sprintf("/c%02d", i)
		if got := read(t, s, name, 0); got != string(content(i)) {
			t.Errorf("%s: wrong content (%d bytes)", name, len(got))
		}
	}
	if got := listAll(t, s, "/", hostapi.ListOptions{Limit: 5}); len(got) != n {
		t.Errorf("List after concurrent uploads: %d entries, want %d", len(got), n)
	}
}

func testChtimes(t TB, s hostapi.Storage) {
	c, ok := s.(hostapi.Chtimer)
	if !ok {
		t.Logf("storage does not implement hostapi.Chtimer")
		return
	}
	ctx := t.Context()
	put(t, s, "/f", "x")
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := c.Chtimes(ctx, "/f", mtime); err != nil {
		t.Fatalf("Chtimes: %v", err)
	}
	fi, err := s.Stat(ctx, "/f")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if !fi.ModTime.Equal(mtime) {
		t.Errorf("ModTime after Chtimes = %v, want %v", fi.ModTime, mtime)
	}
	wantErr(t, "Chtimes of a missing file", c.Chtimes(ctx, "/missing", mtime), hostapi.ErrNotExist)
}
