package vfs_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/filegate/filegate/core/vfs"
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/local"
	"github.com/filegate/filegate/plugins/storage/memory"
)

// journal is an in-memory vfs.Journal.
type journal struct {
	mu     sync.Mutex
	events []hostapi.Event
	err    error // returned by Record when set
}

func (j *journal) Record(ctx context.Context, tenantID int64, ev hostapi.Event) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	if err := ctx.Err(); err != nil { // as the store does: a cancelled transaction never starts
		return err
	}
	if tenantID != 7 {
		return fmt.Errorf("tenant %d, want 7", tenantID)
	}
	j.events = append(j.events, ev)
	return nil
}

// take returns and forgets the recorded events, checking their stamp and clearing
// their time so they compare.
func (j *journal) take(t *testing.T) []hostapi.Event {
	t.Helper()
	j.mu.Lock()
	defer j.mu.Unlock()
	evs := j.events
	j.events = nil
	for i := range evs {
		ev := &evs[i]
		if ev.Time.IsZero() || ev.Time.Location() != time.UTC || time.Since(ev.Time) > time.Minute {
			t.Errorf("event %d: time %v, want now in UTC", i, ev.Time)
		}
		if ev.Protocol != "sftp" || ev.Account != "cam1" || ev.RemoteAddr != "192.0.2.1:5000" {
			t.Errorf("event %d: stamped %q %q %q", i, ev.Protocol, ev.Account, ev.RemoteAddr)
		}
		ev.Time, ev.Protocol, ev.Account, ev.RemoteAddr = time.Time{}, "", "", ""
	}
	return evs
}

// wantEvents checks the events recorded since the last check.
func (j *journal) want(t *testing.T, want ...hostapi.Event) {
	t.Helper()
	got := j.take(t)
	if !slices.Equal(got, want) {
		t.Errorf("events:\n got %+v\nwant %+v", got, want)
	}
}

var allRights = vfs.Rights{Read: true, List: true, Write: true, Delete: true, Rename: true}

// env is a session on a backend, with the tenant root /tenants/7 and chroot /uploads.
type env struct {
	backend hostapi.Storage
	j       *journal
	fs      *vfs.FS
}

// backends runs test against each first-party backend.
func backends(t *testing.T, test func(t *testing.T, e *env)) {
	for _, b := range []struct {
		name string
		new  func(t *testing.T) hostapi.Storage
	}{
		{"memory", func(t *testing.T) hostapi.Storage { return memory.New() }},
		{"local", func(t *testing.T) hostapi.Storage {
			s, err := local.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
	} {
		t.Run(b.name, func(t *testing.T) {
			s := b.new(t)
			for _, d := range []string{"/tenants", "/tenants/7", "/tenants/7/uploads"} {
				if err := s.Mkdir(t.Context(), d); err != nil {
					t.Fatal(err)
				}
			}
			test(t, newEnv(s, allRights))
		})
	}
}

func newEnv(s hostapi.Storage, r vfs.Rights) *env {
	return sessionEnv(s, &journal{}, r)
}

func sessionEnv(s hostapi.Storage, j *journal, r vfs.Rights) *env {
	return &env{backend: s, j: j, fs: vfs.New(s, j, vfs.Session{
		TenantID: 7, TenantRoot: "/tenants/7", Chroot: "/uploads",
		Account: "cam1", Protocol: "sftp", RemoteAddr: "192.0.2.1:5000", Rights: r,
	})}
}

// as returns a session with other rights on the same backend and journal.
func (e *env) as(r vfs.Rights) *env { return sessionEnv(e.backend, e.j, r) }

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// upload writes a file through the FS and commits it.
func (e *env) upload(t *testing.T, p, content string, opts vfs.CreateOptions) hostapi.Event {
	t.Helper()
	w, err := e.fs.Create(t.Context(), p, opts)
	if err != nil {
		t.Fatalf("Create(%q): %v", p, err)
	}
	if _, err := io.WriteString(w, content); err != nil {
		t.Fatalf("Write: %v", err)
	}
	ev, err := w.Commit(t.Context())
	if err != nil {
		t.Fatalf("Commit(%q): %v", p, err)
	}
	return ev
}

// backendContent reads a file straight from the backend.
func (e *env) backendContent(t *testing.T, p string) string {
	t.Helper()
	r, err := e.backend.Open(t.Context(), p, 0)
	if err != nil {
		t.Fatalf("backend Open(%q): %v", p, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestUpload(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ev := e.upload(t, "a.jpg", "hello", vfs.CreateOptions{})
		want := hostapi.Event{Type: hostapi.EventFileUploaded, Path: "/uploads/a.jpg", Size: 5, SHA256: sum("hello")}
		e.j.want(t, want)
		ev.Time, ev.Protocol, ev.Account, ev.RemoteAddr = time.Time{}, "", "", ""
		if ev != want {
			t.Errorf("Commit returned %+v, want %+v", ev, want)
		}
		if got := e.backendContent(t, "/tenants/7/uploads/a.jpg"); got != "hello" {
			t.Errorf("backend holds %q", got)
		}

		// Overwrite=false on an existing file: refused before anything is written.
		_, err := e.fs.Create(t.Context(), "/a.jpg", vfs.CreateOptions{})
		if !errors.Is(err, hostapi.ErrExist) {
			t.Errorf("Create over an existing file: %v, want ErrExist", err)
		}
		e.upload(t, "/a.jpg", "bye", vfs.CreateOptions{Overwrite: true})
		e.j.want(t, hostapi.Event{Type: hostapi.EventFileUploaded, Path: "/uploads/a.jpg", Size: 3, SHA256: sum("bye")})

		// MakeParents records each folder created, then the upload.
		e.upload(t, "x/y/z.txt", "", vfs.CreateOptions{MakeParents: true})
		e.j.want(t,
			hostapi.Event{Type: hostapi.EventDirCreated, Path: "/uploads/x"},
			hostapi.Event{Type: hostapi.EventDirCreated, Path: "/uploads/x/y"},
			hostapi.Event{Type: hostapi.EventFileUploaded, Path: "/uploads/x/y/z.txt", SHA256: sum("")},
		)
		if _, err := e.fs.Create(t.Context(), "no/parent", vfs.CreateOptions{}); !errors.Is(err, hostapi.ErrNotExist) {
			t.Errorf("Create without parent: %v, want ErrNotExist", err)
		}
		if _, err := e.fs.Create(t.Context(), "x", vfs.CreateOptions{Overwrite: true}); !errors.Is(err, hostapi.ErrIsDir) {
			t.Errorf("Create over a folder: %v, want ErrIsDir", err)
		}
		e.j.want(t)
	})
}

func TestUploadResume(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		e.upload(t, "f", "0123456789", vfs.CreateOptions{})
		e.j.take(t)
		e.upload(t, "f", "XY", vfs.CreateOptions{Offset: 4})
		e.j.want(t, hostapi.Event{Type: hostapi.EventFileUploaded, Path: "/uploads/f", Size: 6, SHA256: sum("0123XY")})
		if got := e.backendContent(t, "/tenants/7/uploads/f"); got != "0123XY" {
			t.Errorf("content after resume = %q", got)
		}
		for _, off := range []int64{7, -1} {
			if _, err := e.fs.Create(t.Context(), "f", vfs.CreateOptions{Offset: off}); !errors.Is(err, hostapi.ErrInvalid) {
				t.Errorf("Create at offset %d: %v, want ErrInvalid", off, err)
			}
		}
		if _, err := e.fs.Create(t.Context(), "missing", vfs.CreateOptions{Offset: 1}); !errors.Is(err, hostapi.ErrNotExist) {
			t.Errorf("resume of a missing file: %v, want ErrNotExist", err)
		}
		e.j.want(t)
	})
}

func TestUploadAbortAndFailure(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		e.upload(t, "f", "v1", vfs.CreateOptions{})
		e.j.take(t)

		w, err := e.fs.Create(ctx, "f", vfs.CreateOptions{Overwrite: true})
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "v2 never lands")
		if err := w.Abort(); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Commit(ctx); err == nil {
			t.Errorf("Commit after Abort succeeded")
		}
		if _, err := w.Write([]byte("x")); err == nil {
			t.Errorf("Write after Abort succeeded")
		}

		// A file appearing at the target during a no-overwrite upload wins.
		w, err = e.fs.Create(ctx, "g", vfs.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "mine")
		e.upload(t, "g", "theirs", vfs.CreateOptions{})
		e.j.take(t)
		if _, err := w.Commit(ctx); !errors.Is(err, hostapi.ErrExist) {
			t.Errorf("Commit over a file created meanwhile: %v, want ErrExist", err)
		}

		// A backend failing in the middle of the stream.
		failing := vfs.New(&failingStorage{Storage: e.backend}, e.j, e.fs.Session())
		w, err = failing.Create(ctx, "f", vfs.CreateOptions{Overwrite: true})
		if err != nil {
			t.Fatal(err)
		}
		if w.CanWriteAt() {
			t.Errorf("CanWriteAt with an upload that is no io.WriterAt")
		}
		if _, err := w.WriteAt([]byte("x"), 0); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("WriteAt: %v, want ErrUnsupported", err)
		}
		if _, err := io.WriteString(w, "this is too long"); err == nil {
			t.Errorf("Write to a failing backend succeeded")
		}
		w.Abort()

		e.j.want(t)
		if got := e.backendContent(t, "/tenants/7/uploads/f"); got != "v1" {
			t.Errorf("content after aborts = %q, want v1", got)
		}
		if got := e.backendContent(t, "/tenants/7/uploads/g"); got != "theirs" {
			t.Errorf("content of g = %q, want theirs", got)
		}
		page, _ := e.fs.List(ctx, "", hostapi.ListOptions{})
		if len(page.Entries) != 2 {
			t.Errorf("List = %+v, want f and g only", page.Entries)
		}
	})
}

// failingStorage's uploads fail after 4 bytes.
type failingStorage struct{ hostapi.Storage }

func (s *failingStorage) Create(ctx context.Context, name string) (hostapi.Upload, error) {
	up, err := s.Storage.Create(ctx, name)
	return &failingUpload{Upload: up}, err
}

type failingUpload struct {
	hostapi.Upload
	n int
}

func (u *failingUpload) Write(p []byte) (int, error) {
	if u.n+len(p) > 4 {
		return 0, errors.New("disk full")
	}
	u.n += len(p)
	return u.Upload.Write(p)
}

func TestWriteAtHashes(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		data := make([]byte, 1<<20)
		for i := range data {
			data[i] = byte(i * 7)
		}
		const chunk = 32 << 10
		var offs []int
		for off := 0; off < len(data); off += chunk {
			offs = append(offs, off)
		}
		for _, tc := range []struct {
			name  string
			order func([]int)
			extra func(w *vfs.Writer) // extra writes, after the others
		}{
			{"in order", func([]int) {}, nil},
			{"shuffled", func(o []int) { rand.Shuffle(len(o), func(i, j int) { o[i], o[j] = o[j], o[i] }) }, nil},
			{"reversed", slices.Reverse[[]int], nil},
			{"rewritten", func([]int) {}, func(w *vfs.Writer) { w.WriteAt(data[100:200], 100) }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				w, err := e.fs.Create(t.Context(), "big", vfs.CreateOptions{Overwrite: true})
				if err != nil {
					t.Fatal(err)
				}
				if !w.CanWriteAt() {
					t.Fatal("CanWriteAt is false")
				}
				o := slices.Clone(offs)
				tc.order(o)
				var wg sync.WaitGroup
				for _, off := range o {
					wg.Go(func() {
						if _, err := w.WriteAt(data[off:off+chunk], int64(off)); err != nil {
							t.Error(err)
						}
					})
				}
				wg.Wait()
				if tc.extra != nil {
					tc.extra(w)
				}
				ev, err := w.Commit(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				h := sha256.Sum256(data)
				if ev.Size != int64(len(data)) || ev.SHA256 != hex.EncodeToString(h[:]) {
					t.Errorf("event size %d sha %s, want %d %x", ev.Size, ev.SHA256, len(data), h)
				}
				if got := e.backendContent(t, "/tenants/7/uploads/big"); got != string(data) {
					t.Errorf("content differs")
				}
				e.j.take(t)
			})
		}
	})
}

func TestDownload(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		e.upload(t, "f", "0123456789", vfs.CreateOptions{})
		e.j.take(t)
		read := func(off int64, n int64) {
			r, err := e.fs.Open(t.Context(), "/f", off)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, io.LimitReader(r, n))
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			r.Close() // records once
		}
		read(0, 100)
		read(4, 100)
		read(0, 3)
		e.j.want(t,
			hostapi.Event{Type: hostapi.EventFileDownloaded, Path: "/uploads/f", Size: 10, SHA256: sum("0123456789")},
			hostapi.Event{Type: hostapi.EventFileDownloaded, Path: "/uploads/f", Size: 6},
			hostapi.Event{Type: hostapi.EventFileDownloaded, Path: "/uploads/f", Size: 3},
		)
		if _, err := e.fs.Open(t.Context(), "missing", 0); !errors.Is(err, hostapi.ErrNotExist) {
			t.Errorf("Open of a missing file: %v", err)
		} else if strings.Contains(err.Error(), "tenants") {
			t.Errorf("error %q shows the backend path", err)
		}
		e.j.want(t)
	})
}

func TestFolders(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		if err := e.fs.Mkdir(ctx, "d", false); err != nil {
			t.Fatal(err)
		}
		if err := e.fs.Mkdir(ctx, "d", false); !errors.Is(err, hostapi.ErrExist) {
			t.Errorf("Mkdir of an existing folder: %v", err)
		}
		if err := e.fs.Mkdir(ctx, "d/e/f", true); err != nil {
			t.Fatal(err)
		}
		if err := e.fs.Mkdir(ctx, "d/e", true); err != nil {
			t.Errorf("Mkdir -p of an existing folder: %v", err)
		}
		e.upload(t, "d/e/f/file", "abc", vfs.CreateOptions{})
		e.upload(t, "d/top", "12345", vfs.CreateOptions{})
		e.j.want(t,
			hostapi.Event{Type: hostapi.EventDirCreated, Path: "/uploads/d"},
			hostapi.Event{Type: hostapi.EventDirCreated, Path: "/uploads/d/e"},
			hostapi.Event{Type: hostapi.EventDirCreated, Path: "/uploads/d/e/f"},
			hostapi.Event{Type: hostapi.EventFileUploaded, Path: "/uploads/d/e/f/file", Size: 3, SHA256: sum("abc")},
			hostapi.Event{Type: hostapi.EventFileUploaded, Path: "/uploads/d/top", Size: 5, SHA256: sum("12345")},
		)
		if err := e.fs.Mkdir(ctx, "d/top/x", true); !errors.Is(err, hostapi.ErrNotDir) {
			t.Errorf("Mkdir -p below a file: %v, want ErrNotDir", err)
		}

		fi, err := e.fs.Stat(ctx, "")
		if err != nil || !fi.IsDir || fi.Name != "" {
			t.Errorf("Stat of the chroot = %+v, %v", fi, err)
		}
		page, err := e.fs.List(ctx, "/d", hostapi.ListOptions{})
		if err != nil || len(page.Entries) != 2 || page.Entries[0].Name != "e" || page.Entries[1].Name != "top" {
			t.Errorf("List(/d) = %+v, %v", page, err)
		}

		if err := e.fs.Rename(ctx, "d/top", "top2"); err != nil {
			t.Fatal(err)
		}
		if err := e.fs.Rename(ctx, "d", "d2"); err != nil {
			t.Fatal(err)
		}
		if err := e.fs.Rename(ctx, "d2", "d2/e/inside"); !errors.Is(err, hostapi.ErrInvalid) {
			t.Errorf("Rename into itself: %v, want ErrInvalid", err)
		}
		if err := e.fs.Rename(ctx, "d2", ""); !errors.Is(err, vfs.ErrPermission) {
			t.Errorf("Rename onto the chroot: %v, want ErrPermission", err)
		}
		e.j.want(t,
			hostapi.Event{Type: hostapi.EventFileMoved, Path: "/uploads/top2", From: "/uploads/d/top", Size: 5},
			hostapi.Event{Type: hostapi.EventFileMoved, Path: "/uploads/d2", From: "/uploads/d", IsDir: true},
		)

		if err := e.fs.Remove(ctx, "d2", false); !errors.Is(err, hostapi.ErrNotEmpty) {
			t.Errorf("Remove of a non-empty folder: %v, want ErrNotEmpty", err)
		}
		if err := e.fs.Remove(ctx, "top2", false); err != nil {
			t.Fatal(err)
		}
		if err := e.fs.Remove(ctx, "d2", true); err != nil {
			t.Fatal(err)
		}
		if err := e.fs.Remove(ctx, "/", true); !errors.Is(err, vfs.ErrPermission) {
			t.Errorf("Remove of the chroot: %v, want ErrPermission", err)
		}
		e.j.want(t,
			hostapi.Event{Type: hostapi.EventFileDeleted, Path: "/uploads/top2", Size: 5},
			hostapi.Event{Type: hostapi.EventFileDeleted, Path: "/uploads/d2/e/f/file", Size: 3},
			hostapi.Event{Type: hostapi.EventDirDeleted, Path: "/uploads/d2/e/f"},
			hostapi.Event{Type: hostapi.EventDirDeleted, Path: "/uploads/d2/e"},
			hostapi.Event{Type: hostapi.EventDirDeleted, Path: "/uploads/d2"},
		)
		if page, _ := e.fs.List(ctx, "", hostapi.ListOptions{}); len(page.Entries) != 0 {
			t.Errorf("chroot holds %+v after removals", page.Entries)
		}

		e.upload(t, "f", "x", vfs.CreateOptions{})
		mtime := time.Date(2021, 5, 6, 7, 8, 9, 0, time.UTC)
		if err := e.fs.Chtimes(ctx, "f", mtime); err != nil {
			t.Fatal(err)
		}
		if fi, err := e.fs.Stat(ctx, "f"); err != nil || !fi.ModTime.Equal(mtime) {
			t.Errorf("Stat after Chtimes = %+v, %v", fi, err)
		}
	})
}

func TestRights(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		e.upload(t, "f", "x", vfs.CreateOptions{})
		e.fs.Mkdir(ctx, "d", false)
		e.j.take(t)

		denied := func(what, right string, err error) {
			t.Helper()
			if !errors.Is(err, vfs.ErrPermission) || !strings.Contains(err.Error(), right) {
				t.Errorf("%s: %v, want ErrPermission naming %q", what, err, right)
			}
		}
		open := func(fs *vfs.FS) error {
			r, err := fs.Open(ctx, "f", 0)
			if err == nil {
				r.Close()
			}
			return err
		}
		create := func(fs *vfs.FS) error {
			_, err := fs.Create(ctx, "new", vfs.CreateOptions{})
			return err
		}

		ro := e.as(vfs.Rights{Read: true, List: true})
		denied("R Create", "write", create(ro.fs))
		denied("R Mkdir", "write", ro.fs.Mkdir(ctx, "x", false))
		denied("R Remove", "delete", ro.fs.Remove(ctx, "f", false))
		denied("R Rename", "rename", ro.fs.Rename(ctx, "f", "g"))
		denied("R Chtimes", "write", ro.fs.Chtimes(ctx, "f", time.Now()))
		if err := open(ro.fs); err != nil {
			t.Errorf("R Open: %v", err)
		}
		ro.j.take(t)

		wo := e.as(vfs.Rights{Write: true})
		denied("W Open", "read", open(wo.fs))
		_, err := wo.fs.List(ctx, "", hostapi.ListOptions{})
		denied("W List", "list", err)
		_, err = wo.fs.Stat(ctx, "f")
		denied("W Stat of a file", "read", err)
		denied("W Remove", "delete", wo.fs.Remove(ctx, "f", false))
		denied("W Rename", "rename", wo.fs.Rename(ctx, "f", "g"))
		if fi, err := wo.fs.Stat(ctx, "d"); err != nil || !fi.IsDir {
			t.Errorf("W Stat of a folder = %+v, %v", fi, err)
		}
		if err := wo.fs.Mkdir(ctx, "cam", false); err != nil {
			t.Errorf("W Mkdir: %v", err)
		}
		wo.upload(t, "cam/1.jpg", "jpg", vfs.CreateOptions{})
		e.j.want(t,
			hostapi.Event{Type: hostapi.EventDirCreated, Path: "/uploads/cam"},
			hostapi.Event{Type: hostapi.EventFileUploaded, Path: "/uploads/cam/1.jpg", Size: 3, SHA256: sum("jpg")},
		)

		for _, in := range []string{"../secret", "%2e%2e/x", `..\x`} {
			_, err := e.fs.Create(ctx, in, vfs.CreateOptions{})
			if !errors.Is(err, hostapi.ErrInvalid) {
				t.Errorf("Create(%q): %v, want ErrInvalid", in, err)
			}
		}
		e.j.want(t)
	})
}

func TestRightsFromAccess(t *testing.T) {
	for in, want := range map[string]vfs.Rights{
		"R":  {Read: true, List: true},
		"W":  {Write: true},
		"RW": allRights,
		"rw": allRights,
	} {
		if got, err := vfs.RightsFromAccess(in); err != nil || got != want {
			t.Errorf("RightsFromAccess(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "X", "RWX"} {
		if _, err := vfs.RightsFromAccess(in); !errors.Is(err, hostapi.ErrInvalid) {
			t.Errorf("RightsFromAccess(%q): %v, want ErrInvalid", in, err)
		}
	}
}

func TestJournalFailure(t *testing.T) {
	e := newEnv(memory.New(), allRights)
	if err := e.fs.Mkdir(t.Context(), "d", false); !errors.Is(err, hostapi.ErrNotExist) {
		t.Errorf("Mkdir in a missing chroot: %v, want ErrNotExist", err)
	}
	e.backend.Mkdir(t.Context(), "/tenants")
	e.backend.Mkdir(t.Context(), "/tenants/7")
	e.backend.Mkdir(t.Context(), "/tenants/7/uploads")
	e.j.err = errors.New("database down")
	if err := e.fs.Mkdir(t.Context(), "d", false); err == nil || !strings.Contains(err.Error(), "database down") {
		t.Errorf("Mkdir with a failing journal: %v", err)
	}
}

// TestSymlinkEscape proves a symbolic link inside a local root that points outside it
// cannot be followed through the FS.
func TestSymlinkEscape(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "tenants", "7", "uploads"), 0o755)
	up := filepath.Join(dir, "tenants", "7", "uploads")
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(up, "link")); err != nil {
		t.Skipf("symlinks unsupported: %v", err)
	}
	os.Symlink(outside, filepath.Join(up, "out"))
	s, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e := newEnv(s, allRights)
	for _, p := range []string{"link", "out/secret"} {
		r, err := e.fs.Open(t.Context(), p, 0)
		if err == nil {
			b, _ := io.ReadAll(r)
			r.Close()
			t.Fatalf("Open(%q) read %q through a symlink leaving the root", p, b)
		}
		if !errors.Is(err, vfs.ErrPermission) {
			t.Errorf("Open(%q): %v, want ErrPermission", p, err)
		}
	}
	if _, err := e.fs.Create(t.Context(), "out/planted", vfs.CreateOptions{}); err == nil {
		t.Errorf("Create through a symlink leaving the root succeeded")
	}
	if _, err := os.Stat(filepath.Join(outside, "planted")); err == nil {
		t.Errorf("a file was written outside the root")
	}
	e.j.want(t)
}

// leavingClient is a backend whose every change is done, then the client leaves: the
// request's context is cancelled, as a session's is when its connection drops during
// an operation.
type leavingClient struct {
	hostapi.Storage
	leave context.CancelFunc
}

func (b leavingClient) Mkdir(ctx context.Context, name string) error {
	defer b.leave()
	return b.Storage.Mkdir(ctx, name)
}

func (b leavingClient) Rename(ctx context.Context, from, to string) error {
	defer b.leave()
	return b.Storage.Rename(ctx, from, to)
}

func (b leavingClient) Remove(ctx context.Context, name string) error {
	defer b.leave()
	return b.Storage.Remove(ctx, name)
}

func (b leavingClient) Open(ctx context.Context, name string, offset int64) (io.ReadCloser, error) {
	defer b.leave() // before the file is read and closed
	return b.Storage.Open(ctx, name, offset)
}

func (b leavingClient) Create(ctx context.Context, name string) (hostapi.Upload, error) {
	up, err := b.Storage.Create(ctx, name)
	return leavingUpload{up, b.leave}, err
}

type leavingUpload struct {
	hostapi.Upload
	leave context.CancelFunc
}

func (u leavingUpload) Commit(ctx context.Context) error {
	defer u.leave()
	return u.Upload.Commit(ctx)
}

// TestEventOutlivesClient: a change the storage has made is recorded even when the
// client leaves while it is made. Otherwise the file, folder or rename would be there
// with no event for the log, the rules or the webhooks.
func TestEventOutlivesClient(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		do := func(op func(ctx context.Context, fs *vfs.FS) error) {
			t.Helper()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			fs := vfs.New(leavingClient{e.backend, cancel}, e.j, e.fs.Session())
			if err := op(ctx, fs); err != nil {
				t.Fatal(err)
			}
		}
		do(func(ctx context.Context, fs *vfs.FS) error { return fs.Mkdir(ctx, "/d", false) })
		do(func(ctx context.Context, fs *vfs.FS) error {
			w, err := fs.Create(ctx, "/d/f", vfs.CreateOptions{})
			if err != nil {
				return err
			}
			if _, err := w.Write([]byte("data")); err != nil {
				return err
			}
			_, err = w.Commit(ctx)
			return err
		})
		do(func(ctx context.Context, fs *vfs.FS) error { return fs.Rename(ctx, "/d/f", "/d/g") })
		do(func(ctx context.Context, fs *vfs.FS) error {
			r, err := fs.Open(ctx, "/d/g", 0)
			if err != nil {
				return err
			}
			if _, err := io.Copy(io.Discard, r); err != nil {
				return err
			}
			return r.Close()
		})
		do(func(ctx context.Context, fs *vfs.FS) error { return fs.Remove(ctx, "/d/g", false) })
		var types []string
		for _, ev := range e.j.take(t) {
			types = append(types, ev.Type)
		}
		want := []string{hostapi.EventDirCreated, hostapi.EventFileUploaded, hostapi.EventFileMoved, hostapi.EventFileDownloaded, hostapi.EventFileDeleted}
		if !slices.Equal(types, want) {
			t.Errorf("events %q, want %q", types, want)
		}
	})
}
