package wire

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// flat is a tiny storage: files in a map, no folders but the root.
type flat struct {
	mu    sync.Mutex
	files map[string][]byte
}

func (f *flat) Manifest() hostapi.Manifest {
	return hostapi.Manifest{Name: "flat", Kind: hostapi.KindStorage}
}
func (f *flat) OpenStorage(context.Context, map[string]any) (hostapi.Storage, error) { return f, nil }
func (f *flat) Stat(_ context.Context, name string) (hostapi.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if name == "/" {
		return hostapi.FileInfo{IsDir: true}, nil
	}
	b, ok := f.files[name]
	if !ok {
		return hostapi.FileInfo{}, hostapi.ErrNotExist
	}
	return hostapi.FileInfo{Name: name[1:], Size: int64(len(b))}, nil
}
func (f *flat) List(context.Context, string, hostapi.ListOptions) (hostapi.ListPage, error) {
	return hostapi.ListPage{}, nil
}
func (f *flat) Open(_ context.Context, name string, offset int64) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.files[name]
	if !ok {
		return nil, hostapi.ErrNotExist
	}
	return io.NopCloser(bytes.NewReader(b[min(offset, int64(len(b))):])), nil
}
func (f *flat) Create(_ context.Context, name string) (hostapi.Upload, error) {
	return &flatUpload{f: f, name: name}, nil
}
func (f *flat) Mkdir(context.Context, string) error          { return hostapi.ErrPermission }
func (f *flat) Rename(context.Context, string, string) error { return hostapi.ErrPermission }
func (f *flat) Remove(context.Context, string) error         { return hostapi.ErrNotEmpty }

type flatUpload struct {
	f    *flat
	name string
	buf  bytes.Buffer
}

func (u *flatUpload) Write(p []byte) (int, error) { return u.buf.Write(p) }
func (u *flatUpload) Commit(context.Context) error {
	u.f.mu.Lock()
	defer u.f.mu.Unlock()
	u.f.files[u.name] = u.buf.Bytes()
	return nil
}
func (u *flatUpload) Abort() error { return nil }

// direct is a Conn to a StorageServer in this process that can be "restarted": a new
// server (no handles), a new generation. It counts the data it carries per call.
type direct struct {
	mu      sync.Mutex
	srv     *StorageServer
	gen     uint64
	calls   map[Method]int
	maxData int
}

func newDirect(f *flat) *direct {
	return &direct{srv: NewStorageServer(f), gen: 1, calls: map[Method]int{}}
}

func (c *direct) Call(ctx context.Context, host hostapi.Host, m Method, req []byte) ([]byte, error) {
	c.mu.Lock()
	srv := c.srv
	c.calls[m]++
	c.mu.Unlock()
	resp := srv.Serve(ctx, host, m, req)
	c.mu.Lock()
	c.maxData = max(c.maxData, len(req), len(resp))
	c.mu.Unlock()
	return resp, nil
}

func (c *direct) Generation() uint64 { c.mu.Lock(); defer c.mu.Unlock(); return c.gen }

func (c *direct) restart(f *flat) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.srv, c.gen = NewStorageServer(f), c.gen+1
}

func TestStorageRoundTrip(t *testing.T) {
	ctx := context.Background()
	f := &flat{files: map[string][]byte{}}
	conn := newDirect(f)
	s, err := NewStorage(ctx, conn, f.Manifest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(hostapi.Chtimer); ok {
		t.Error("a Chtimer, but the plugin has no Chtimes")
	}
	data := bytes.Repeat([]byte("abcdefghijklmnopq"), 300<<10) // 5.1 MB
	up, err := s.Create(ctx, "/f")
	if err != nil {
		t.Fatal(err)
	}
	for rest := data; len(rest) > 0; {
		k := min(len(rest), 333<<10)
		up.Write(rest[:k])
		rest = rest[k:]
	}
	if _, err := s.Stat(ctx, "/f"); !errors.Is(err, hostapi.ErrNotExist) {
		t.Errorf("Stat before Commit: %v, want ErrNotExist", err)
	}
	if err := up.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(ctx, "/f", 7)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data[7:]) {
		t.Fatalf("read back %d bytes, %v", len(got), err)
	}
	if conn.maxData > ChunkMax+64 {
		t.Errorf("a message carried %d bytes, more than a chunk", conn.maxData)
	}
	if n := conn.calls[MethodWrite]; n != len(data)/ChunkMax {
		t.Errorf("%d Write calls for %d bytes, want %d full chunks (the rest goes with Commit)", n, len(data), len(data)/ChunkMax)
	}
	for _, tc := range []struct {
		err  error
		want error
	}{
		{s.Mkdir(ctx, "/d"), hostapi.ErrPermission}, {s.Remove(ctx, "/d"), hostapi.ErrNotEmpty},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("error %v, want %v", tc.err, tc.want)
		}
	}
	// A small file is read with one call, and needs no Close.
	f.files["/small"] = []byte("tiny")
	before := conn.calls[MethodRead] + conn.calls[MethodClose]
	r, _ = s.Open(ctx, "/small", 0)
	if got, _ := io.ReadAll(r); string(got) != "tiny" || r.Close() != nil {
		t.Errorf("small file read %q", got)
	}
	if after := conn.calls[MethodRead] + conn.calls[MethodClose]; after != before {
		t.Errorf("a small file took %d Read or Close calls after Open", after-before)
	}
}

// TestStorageRestart: handles opened before the plugin restarted fail without being
// sent to the new plugin, and the upload is never committed.
func TestStorageRestart(t *testing.T) {
	ctx := context.Background()
	f := &flat{files: map[string][]byte{"/big": bytes.Repeat([]byte("x"), 3<<20)}}
	conn := newDirect(f)
	s, err := NewStorage(ctx, conn, f.Manifest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := s.Open(ctx, "/big", 0)
	io.ReadFull(r, make([]byte, 100<<10))
	up, _ := s.Create(ctx, "/new")
	up.Write(bytes.Repeat([]byte("y"), 2<<20))
	conn.restart(f)
	writes := conn.calls[MethodWrite]
	if _, err := up.Write([]byte("more")); err != nil {
		t.Errorf("a buffered Write failed early: %v", err)
	}
	if err := up.Commit(ctx); err == nil || !strings.Contains(err.Error(), "restarted") {
		t.Errorf("Commit after a restart: %v", err)
	}
	if conn.calls[MethodWrite] != writes || conn.calls[MethodCommit] != 0 {
		t.Error("calls on an old handle reached the restarted plugin")
	}
	if _, ok := f.files["/new"]; ok {
		t.Error("the upload was committed")
	}
	if _, err := io.ReadAll(r); err == nil || !strings.Contains(err.Error(), "restarted") {
		t.Errorf("reading on after a restart: %v", err)
	}
	if err := r.Close(); err != nil || up.Abort() != nil {
		t.Errorf("Close or Abort after a restart: %v", err)
	}
	// A handle id from before the restart is unknown to the new server.
	resp := conn.srv.Serve(ctx, nil, MethodWrite, func() []byte { var e Encoder; e.Uint(1); e.Blob([]byte("z")); return e.Bytes() }())
	if _, err := Result(resp); !errors.Is(err, hostapi.ErrInvalid) {
		t.Errorf("Write on an unknown handle: %v", err)
	}
}

// failing is a flat storage whose uploads fail once they hold more than limit bytes.
type failing struct {
	flat
	limit int
}

func (f *failing) OpenStorage(context.Context, map[string]any) (hostapi.Storage, error) {
	return f, nil
}

func (f *failing) Create(_ context.Context, name string) (hostapi.Upload, error) {
	return &failingUpload{flatUpload{f: &f.flat, name: name}, f.limit}, nil
}

type failingUpload struct {
	flatUpload
	limit int
}

func (u *failingUpload) Write(p []byte) (int, error) {
	if u.buf.Len()+len(p) > u.limit {
		return 0, errors.New("disk full")
	}
	return u.buf.Write(p)
}

// TestStorageWriteBehind: a chunk the plugin fails to store, written behind, fails
// the upload at the next chunk or at Commit, and nothing is committed.
func TestStorageWriteBehind(t *testing.T) {
	ctx := context.Background()
	for _, chunks := range []int{2, 1} { // the failure seen by a Write, by Commit
		f := &failing{flat{files: map[string][]byte{}}, ChunkMax}
		s, err := NewStorage(ctx, &direct{srv: NewStorageServer(f), gen: 1, calls: map[Method]int{}}, f.Manifest(), nil)
		if err != nil {
			t.Fatal(err)
		}
		up, _ := s.Create(ctx, "/f")
		if _, err := up.Write(make([]byte, ChunkMax)); err != nil {
			t.Fatalf("first chunk: %v", err)
		}
		_, err = up.Write(make([]byte, chunks*ChunkMax))
		if chunks == 2 && (err == nil || !strings.Contains(err.Error(), "disk full")) {
			t.Errorf("the Write after a failed chunk: %v", err)
		}
		if err := up.Commit(ctx); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("Commit after a failed chunk: %v", err)
		}
		if err := up.Abort(); err != nil {
			t.Errorf("Abort after a failed chunk: %v", err)
		}
		if _, ok := f.files["/f"]; ok {
			t.Error("a failed upload was committed")
		}
	}
}
