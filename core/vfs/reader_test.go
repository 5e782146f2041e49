package vfs_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/filegate/filegate/core/internal/cputime"

	"github.com/filegate/filegate/core/vfs"
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/local"
	"github.com/filegate/filegate/plugins/storage/memory"
)

// sumJournal records events and, like core/store's metadata tree, answers FileSum
// from the last file.uploaded of each path.
type sumJournal struct {
	mu     sync.Mutex
	events []hostapi.Event
	files  map[string]hostapi.Event
}

func (j *sumJournal) Record(_ context.Context, _ int64, ev hostapi.Event) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events = append(j.events, ev)
	if ev.Type == hostapi.EventFileUploaded {
		j.files[ev.Path] = ev
	}
	return nil
}

func (j *sumJournal) FileSum(_ context.Context, _ int64, p string) (int64, time.Time, string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	ev, ok := j.files[p]
	if !ok {
		return 0, time.Time{}, "", nil
	}
	return ev.Size, time.UnixMilli(ev.Time.UnixMilli()), ev.SHA256, nil
}

func (j *sumJournal) last() hostapi.Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.events[len(j.events)-1]
}

var _ vfs.Sums = (*sumJournal)(nil)

func sumOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// fromRecorder is an io.ReaderFrom that keeps what it is given and the type of the
// reader it was handed (a *net.TCPConn sends an *os.File with sendfile).
type fromRecorder struct {
	bytes.Buffer
	from string
}

func (w *fromRecorder) ReadFrom(r io.Reader) (int64, error) {
	w.from = fmt.Sprintf("%T", r)
	return w.Buffer.ReadFrom(r)
}

func sumEnv(t testing.TB, b hostapi.Storage) (*vfs.FS, *sumJournal) {
	j := &sumJournal{files: map[string]hostapi.Event{}}
	return vfs.New(b, j, vfs.Session{TenantRoot: "/", Chroot: "/", Protocol: "http",
		Rights: vfs.Rights{Read: true, List: true, Write: true}}), j
}

func put(t testing.TB, fsys *vfs.FS, p string, data []byte) hostapi.Event {
	w, err := fsys.Create(context.Background(), p, vfs.CreateOptions{Overwrite: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	ev, err := w.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// download writes the file from offset to a fromRecorder with WriteTo and closes
// the reader; it returns the recorder and the file.downloaded event.
func download(t *testing.T, fsys *vfs.FS, j *sumJournal, p string, offset int64) (*fromRecorder, hostapi.Event) {
	t.Helper()
	r, err := fsys.Open(t.Context(), p, offset)
	if err != nil {
		t.Fatal(err)
	}
	var w fromRecorder
	if _, err := r.WriteTo(&w); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	ev := j.last()
	if ev.Type != hostapi.EventFileDownloaded || ev.Path != p {
		t.Fatalf("last event %s %s, want file.downloaded %s", ev.Type, ev.Path, p)
	}
	return &w, ev
}

// TestDownloadRecordedSum: a whole download of a local file whose size and mtime match
// what the journal recorded hands the *os.File to the writer's ReadFrom (sendfile on a
// socket) and takes the SHA-256 from the journal; any other is hashed as it is read.
func TestDownloadRecordedSum(t *testing.T) {
	dir := t.TempDir()
	s, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fsys, j := sumEnv(t, s)
	data := bytes.Repeat([]byte("0123456789abcdef"), 40_000)
	up := put(t, fsys, "/f.bin", data)
	fi, err := os.Stat(filepath.Join(dir, "f.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(up.Time) {
		t.Fatalf("file mtime %v, upload event time %v: want them equal", fi.ModTime(), up.Time)
	}

	w, ev := download(t, fsys, j, "/f.bin", 0)
	if w.from != "*os.File" || !bytes.Equal(w.Bytes(), data) || ev.Size != int64(len(data)) || ev.SHA256 != up.SHA256 {
		t.Errorf("recorded file: ReadFrom(%s), %d bytes, event size %d sha256 %s; want *os.File, %d, %s",
			w.from, w.Len(), ev.Size, ev.SHA256, len(data), up.SHA256)
	}

	w, ev = download(t, fsys, j, "/f.bin", 1000)
	if w.from != "*os.File" || !bytes.Equal(w.Bytes(), data[1000:]) || ev.Size != int64(len(data)-1000) || ev.SHA256 != "" {
		t.Errorf("from offset 1000: ReadFrom(%s), %d bytes, event size %d sha256 %q", w.from, w.Len(), ev.Size, ev.SHA256)
	}

	// The journal is trusted while size and mtime match: a change behind the gateway's
	// back that keeps both is not seen (as with reindex).
	changed := bytes.ToUpper(data)
	if err := os.WriteFile(filepath.Join(dir, "f.bin"), changed, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(filepath.Join(dir, "f.bin"), time.Time{}, up.Time)
	if _, ev = download(t, fsys, j, "/f.bin", 0); ev.SHA256 != up.SHA256 {
		t.Errorf("same size and mtime: sha256 %s, want the recorded %s", ev.SHA256, up.SHA256)
	}
	// Another mtime: hashed, through Read.
	os.Chtimes(filepath.Join(dir, "f.bin"), time.Time{}, up.Time.Add(time.Second))
	w, ev = download(t, fsys, j, "/f.bin", 0)
	if w.from == "*os.File" || !bytes.Equal(w.Bytes(), changed) || ev.SHA256 != sumOf(changed) {
		t.Errorf("changed mtime: ReadFrom(%s), sha256 %s, want hashed %s", w.from, ev.SHA256, sumOf(changed))
	}

	// A partial read of a recorded file has no SHA-256.
	up = put(t, fsys, "/g.bin", data)
	r, err := fsys.Open(t.Context(), "/g.bin", 0)
	if err != nil {
		t.Fatal(err)
	}
	io.CopyN(io.Discard, r, 1000)
	r.Close()
	if ev := j.last(); ev.Size != 1000 || ev.SHA256 != "" {
		t.Errorf("partial read: size %d sha256 %q", ev.Size, ev.SHA256)
	}
}

// TestDownloadWriteToMemory: a backend that gives no file is copied through Read and
// hashed.
func TestDownloadWriteToMemory(t *testing.T) {
	fsys, j := sumEnv(t, memory.New())
	data := bytes.Repeat([]byte("xyz"), 300_000)
	put(t, fsys, "/m.bin", data)
	w, ev := download(t, fsys, j, "/m.bin", 0)
	if w.from == "*os.File" || !bytes.Equal(w.Bytes(), data) || ev.Size != int64(len(data)) || ev.SHA256 != sumOf(data) {
		t.Errorf("memory: ReadFrom(%s), %d bytes, event size %d sha256 %s", w.from, w.Len(), ev.Size, ev.SHA256)
	}
}

// BenchmarkDownload sends a 64 MiB local file over a loopback TCP connection with
// Reader.WriteTo: "hash-copy" is the path of a file the journal does not know (hashed
// and copied through user space, as every download was before), "copy" one that
// needs no hash but whose writer is not an io.ReaderFrom (TLS), "sendfile" a known
// file to a *net.TCPConn. cpu-ms/op is the CPU time of the whole process (sender and
// receiver) per download.
func BenchmarkDownload(b *testing.B) {
	const size = 64 << 20
	dir := b.TempDir()
	s, err := local.New(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	fsys, _ := sumEnv(b, s)
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 13)
	}
	put(b, fsys, "/known.bin", data)
	if err := os.WriteFile(filepath.Join(dir, "unknown.bin"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	for _, v := range []struct {
		name, path string
		plain      bool // hide ReadFrom, as a TLS connection does
	}{
		{"hash-copy", "/unknown.bin", false},
		{"copy", "/known.bin", true},
		{"sendfile", "/known.bin", false},
	} {
		b.Run(v.name, func(b *testing.B) {
			conn, done := discardConn(b)
			var w io.Writer = conn
			if v.plain {
				w = struct{ io.Writer }{conn}
			}
			b.SetBytes(size)
			cpu0 := cputime.Process()
			for b.Loop() {
				r, err := fsys.Open(context.Background(), v.path, 0)
				if err != nil {
					b.Fatal(err)
				}
				if n, err := r.WriteTo(w); err != nil || n != size {
					b.Fatalf("WriteTo = %d, %v", n, err)
				}
				r.Close()
			}
			b.ReportMetric(float64((cputime.Process()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
			conn.Close()
			<-done
		})
	}
}

// discardConn returns a loopback TCP connection whose other end reads and drops
// everything in large reads until it closes.
func discardConn(b *testing.B) (*net.TCPConn, chan struct{}) {
	return loopback(b, func(c net.Conn) {
		buf := make([]byte, 1<<20)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	})
}

// loopback returns one end of a loopback TCP connection; serve runs with the other
// end, on a goroutine that closes it and then done.
func loopback(b *testing.B, serve func(net.Conn)) (*net.TCPConn, chan struct{}) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		ln.Close() // only now: closing it resets a connection not yet accepted
		if err != nil {
			return
		}
		defer c.Close()
		serve(c)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		ln.Close()
		b.Fatal(err)
	}
	return c.(*net.TCPConn), done
}
