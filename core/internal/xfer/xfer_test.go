package xfer_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/filegate/filegate/core/internal/xfer"
	"github.com/filegate/filegate/core/vfs"
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/memory"
)

// journal counts events by type.
type journal struct {
	mu sync.Mutex
	n  map[string]int
}

func (j *journal) Record(_ context.Context, _ int64, ev hostapi.Event) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.n[ev.Type]++
	return nil
}

func (j *journal) count(typ string) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.n[typ]
}

// appendOnly hides the WriterAt of its uploads, like object storage.
type appendOnly struct{ hostapi.Storage }

func (s appendOnly) Create(ctx context.Context, name string) (hostapi.Upload, error) {
	up, err := s.Storage.Create(ctx, name)
	return struct{ hostapi.Upload }{up}, err
}

var log = slog.New(slog.DiscardHandler)

func newFS(b hostapi.Storage) (*vfs.FS, *journal) {
	j := &journal{n: map[string]int{}}
	return vfs.New(b, j, vfs.Session{TenantRoot: "/", Chroot: "/", Protocol: "sftp",
		Rights: vfs.Rights{Read: true, List: true, Write: true, Delete: true, Rename: true}}), j
}

// chunks splits n bytes in 32 KiB chunks and returns their offsets, shuffled within
// groups of 8 (as SFTP workers reorder them).
func chunks(n int) []int {
	var offs []int
	for off := 0; off < n; off += 32 << 10 {
		offs = append(offs, off)
	}
	for i := 0; i < len(offs); i += 8 {
		g := offs[i:min(i+8, len(offs))]
		rand.Shuffle(len(g), func(a, b int) { g[a], g[b] = g[b], g[a] })
	}
	return offs
}

func content(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 31 / 7)
	}
	return b
}

func TestUploadOutOfOrder(t *testing.T) {
	for name, b := range map[string]hostapi.Storage{"writer-at": memory.New(), "append-only": appendOnly{memory.New()}} {
		t.Run(name, func(t *testing.T) {
			data := content(1<<20 + 1000)
			uploadWhole(t, b, data, func(u *xfer.Upload) {
				var wg sync.WaitGroup
				for _, off := range chunks(len(data)) {
					wg.Go(func() {
						if _, err := u.WriteAt(data[off:min(off+32<<10, len(data))], int64(off)); err != nil {
							t.Error(err)
						}
					})
				}
				wg.Wait()
			})
		})
	}
}

// TestUploadReadFrom stores what ReadFrom reads, on storage that writes out of order and
// on append-only storage, and returns a reader's error as it is.
func TestUploadReadFrom(t *testing.T) {
	for name, b := range map[string]hostapi.Storage{"writer-at": memory.New(), "append-only": appendOnly{memory.New()}} {
		t.Run(name, func(t *testing.T) {
			data := content(3<<20 + 77)
			fsys := uploadWhole(t, b, data, func(u *xfer.Upload) {
				if n, err := u.ReadFrom(iotest.HalfReader(bytes.NewReader(data))); err != nil || n != int64(len(data)) {
					t.Fatalf("ReadFrom = %d, %v; want %d, nil", n, err, len(data))
				}
			})
			reset := errors.New("connection reset")
			u, err := xfer.Create(t.Context(), log, fsys, "/g", vfs.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := u.ReadFrom(io.MultiReader(bytes.NewReader(data[:1000]), iotest.ErrReader(reset))); err != reset {
				t.Errorf("ReadFrom of a broken transfer: %v, want %v", err, reset)
			}
			if err := u.Close(); err == nil {
				t.Error("Close committed a broken transfer")
			}
		})
	}
}

// uploadWhole uploads data to /f on storage b with write and checks that Close stores it
// and records file.uploaded once. It returns the FS.
func uploadWhole(t *testing.T, b hostapi.Storage, data []byte, write func(u *xfer.Upload)) *vfs.FS {
	t.Helper()
	fsys, j := newFS(b)
	u, err := xfer.Create(t.Context(), log, fsys, "/f", vfs.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	write(u)
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, fsys, "/f"); !bytes.Equal(got, data) {
		t.Fatalf("stored %d bytes, differing", len(got))
	}
	if j.count(hostapi.EventFileUploaded) != 1 {
		t.Errorf("file.uploaded recorded %d times", j.count(hostapi.EventFileUploaded))
	}
	return fsys
}

func TestUploadAborts(t *testing.T) {
	fsys, j := newFS(appendOnly{memory.New()})
	for name, write := range map[string]func(u *xfer.Upload){
		"gap never filled":  func(u *xfer.Upload) { u.WriteAt([]byte("late"), 100) },
		"transfer error":    func(u *xfer.Upload) { u.Write([]byte("data")); u.TransferError(io.ErrUnexpectedEOF) },
		"rewrite":           func(u *xfer.Upload) { u.Write([]byte("data")); u.WriteAt([]byte("x"), 0) },
		"spilled, gap":      func(u *xfer.Upload) { u.WriteAt(make([]byte, 17<<20), 1) },
		"write after error": func(u *xfer.Upload) { u.TransferError(io.EOF); u.Write([]byte("x")) },
		"read error": func(u *xfer.Upload) {
			u.ReadFrom(io.MultiReader(strings.NewReader("data"), iotest.ErrReader(errors.New("reset"))))
		},
		"read after error": func(u *xfer.Upload) { u.TransferError(io.EOF); u.ReadFrom(strings.NewReader("x")) },
	} {
		u, err := xfer.Create(t.Context(), log, fsys, "/"+name, vfs.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		write(u)
		var e *xfer.Error
		if err := u.Close(); err == nil {
			t.Errorf("%s: Close committed", name)
		} else if !errors.As(err, &e) {
			t.Errorf("%s: Close returned %v, not a client-facing *xfer.Error", name, err)
		}
		if _, err := fsys.Stat(t.Context(), "/"+name); !errors.Is(err, hostapi.ErrNotExist) {
			t.Errorf("%s: file is visible: %v", name, err)
		}
	}
	if n := j.count(hostapi.EventFileUploaded); n != 0 {
		t.Errorf("file.uploaded recorded %d times", n)
	}
}

// TestUploadSpill writes 64 MiB to append-only storage in 32 KiB chunks in reverse
// order, four times the in-memory reorder bound: the writes held back spill to a
// temporary file, the file is stored whole, and no spill file is left after Close,
// whether it commits or aborts.
func TestUploadSpill(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	fsys, _ := newFS(appendOnly{memory.New()})
	data := content(64 << 20)
	reversed := func(p string, skipFirst bool) *xfer.Upload {
		u, err := xfer.Create(t.Context(), log, fsys, p, vfs.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for off := len(data) - 32<<10; off >= 0; off -= 32 << 10 {
			if off == 0 && skipFirst {
				break
			}
			if _, err := u.WriteAt(data[off:off+32<<10], int64(off)); err != nil {
				t.Fatalf("WriteAt(%d): %v", off, err)
			}
		}
		return u
	}
	if err := reversed("/whole", false).Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := read(t, fsys, "/whole"); !bytes.Equal(got, data) {
		t.Fatalf("stored %d bytes, differing from the %d written", len(got), len(data))
	}
	if err := reversed("/gap", true).Close(); err == nil {
		t.Fatalf("Close with the first chunk missing: %v", err)
	}
	if _, err := fsys.Stat(t.Context(), "/gap"); !errors.Is(err, hostapi.ErrNotExist) {
		t.Errorf("the upload with a gap is visible: %v", err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left in the temporary folder: %v", left)
	}
}

func read(t *testing.T, fsys *vfs.FS, p string) []byte {
	t.Helper()
	r, err := fsys.Open(t.Context(), p, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDownloadReadAt(t *testing.T) {
	fsys, j := newFS(memory.New())
	data := content(1<<20 + 77)
	u, _ := xfer.Create(t.Context(), log, fsys, "/f", vfs.CreateOptions{})
	u.Write(data)
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	d, err := xfer.Open(t.Context(), log, fsys, "/f", 0)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, (len(data)>>15+3)<<15) // whole 32 KiB chunks, reading past the end too
	var wg sync.WaitGroup
	for _, off := range chunks(len(got)) {
		wg.Go(func() {
			n, err := d.ReadAt(got[off:off+32<<10], int64(off))
			if err != nil && err != io.EOF {
				t.Error(err)
			}
			if want := max(0, min(32<<10, len(data)-off)); n != want {
				t.Errorf("ReadAt(%d) = %d bytes, want %d", off, n, want)
			}
		})
	}
	wg.Wait()
	d.Close()
	if !bytes.Equal(got[:len(data)], data) {
		t.Fatal("read back differs")
	}
	if n := j.count(hostapi.EventFileDownloaded); n != 1 {
		t.Errorf("file.downloaded recorded %d times, want once for one sequential pass", n)
	}
	if _, err := xfer.Open(t.Context(), log, fsys, "/missing", 0); !errors.Is(err, hostapi.ErrNotExist) {
		t.Errorf("Open of a missing file: %v", err)
	}
}
