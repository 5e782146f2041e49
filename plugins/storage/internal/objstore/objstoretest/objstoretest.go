// Package objstoretest holds what the object-store plugins' tests share: a gateway
// scenario over the REST API, and memory and throughput measurements. The servers
// themselves are started by conformance/testservers.
package objstoretest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// Put writes a file through s and commits it, in writes of 32 KiB or less.
func Put(t testing.TB, s hostapi.Storage, name string, data []byte) {
	t.Helper()
	u, err := s.Create(t.Context(), name)
	if err != nil {
		t.Fatalf("Create(%q): %v", name, err)
	}
	for p := data; len(p) > 0; {
		k := min(len(p), 32<<10)
		if _, err := u.Write(p[:k]); err != nil {
			u.Abort()
			t.Fatalf("Write(%q): %v", name, err)
		}
		p = p[k:]
	}
	if err := u.Commit(t.Context()); err != nil {
		t.Fatalf("Commit(%q): %v", name, err)
	}
}

// Read reads a file through s from offset.
func Read(t testing.TB, s hostapi.Storage, name string, offset int64) []byte {
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
	return b
}

// RandomBytes returns n random bytes.
func RandomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// pattern is an io.Reader of size deterministic bytes, cheap to produce, and the
// SHA-256 it hashes as it goes.
type pattern struct {
	left int64
	off  int64
	h    io.Writer
}

func (p *pattern) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(b)), p.left))
	for i := range b[:n] {
		b[i] = byte((p.off + int64(i)) * 2654435761 >> 13)
	}
	if p.h != nil {
		p.h.Write(b[:n])
	}
	p.off += int64(n)
	p.left -= int64(n)
	return n, nil
}

// Stream uploads size pattern bytes to name through s, in writes of 32 KiB (as the
// protocol front ends do), and returns their SHA-256.
func Stream(ctx context.Context, s hostapi.Storage, name string, size int64) ([]byte, error) {
	u, err := s.Create(ctx, name)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	buf := make([]byte, 32<<10)
	if _, err := io.CopyBuffer(onlyWriter{u}, &pattern{left: size, h: h}, buf); err != nil {
		u.Abort()
		return nil, err
	}
	if err := u.Commit(ctx); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// onlyWriter hides every method but Write, so io.Copy uses the given buffer.
type onlyWriter struct{ io.Writer }

// HashFile reads name whole through s and returns its SHA-256 and size.
func HashFile(ctx context.Context, s hostapi.Storage, name string) ([]byte, int64, error) {
	r, err := s.Open(ctx, name, 0)
	if err != nil {
		return nil, 0, err
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, r, make([]byte, 256<<10))
	return h.Sum(nil), n, err
}

// ParallelUploads streams n uploads of size bytes at once through s and returns the
// peak of the Go heap in use (sampled every 20 ms) above what it was before.
func ParallelUploads(t testing.TB, s hostapi.Storage, n int, size int64) (peak uint64) {
	t.Helper()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	stop, sampled := make(chan struct{}), make(chan uint64)
	go func() {
		var top uint64
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			top = max(top, ms.HeapInuse)
			select {
			case <-stop:
				sampled <- top
				return
			case <-tick.C:
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = Stream(t.Context(), s, fmt.Sprintf("/parallel-%d", i), size)
		})
	}
	wg.Wait()
	close(stop)
	top := <-sampled
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("parallel uploads: %v", err)
	}
	for i := range n {
		fi, err := s.Stat(t.Context(), fmt.Sprintf("/parallel-%d", i))
		if err != nil || fi.Size != size {
			t.Fatalf("upload %d: %+v, %v; want %d bytes", i, fi, err, size)
		}
	}
	if top < base {
		return 0
	}
	return top - base
}

// Throughput uploads then downloads size bytes through s, checks them, and reports
// MB/s of each as the benchmark metrics "up-MB/s" and "down-MB/s".
func Throughput(b *testing.B, s hostapi.Storage, size int64) {
	ctx := b.Context()
	for b.Loop() {
		start := time.Now()
		sum, err := Stream(ctx, s, "/throughput.bin", size)
		if err != nil {
			b.Fatal(err)
		}
		up := time.Since(start)
		start = time.Now()
		got, n, err := HashFile(ctx, s, "/throughput.bin")
		if err != nil {
			b.Fatal(err)
		}
		down := time.Since(start)
		if n != size || !bytes.Equal(got, sum) {
			b.Fatalf("downloaded %d bytes, hash %x; want %d, %x", n, got, size, sum)
		}
		b.ReportMetric(float64(size)/up.Seconds()/1e6, "up-MB/s")
		b.ReportMetric(float64(size)/down.Seconds()/1e6, "down-MB/s")
	}
}

// GatewayEnv is the part of gatewaytest.Env the REST scenario uses.
type GatewayEnv interface {
	Token() string
	Do(method, path, token string, body, out any) int
	Request(method, path, token string, body any) *http.Response
}

// RESTScenario drives a gateway whose primary storage is the backend under test
// through the REST API: multipart upload into new folders, listing, download with a
// range, moving a file and a folder, recursive delete.
func RESTScenario(t *testing.T, e GatewayEnv, url string) {
	tok := e.Token()
	a, b := RandomBytes(3<<20+17), []byte("second file\n")
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("meta", `{"files":[{"field":"f1","path":"in/2026/"},{"field":"f2","path":"/in/notes.txt"}]}`)
	w, _ := mw.CreateFormFile("f1", "report one.pdf")
	w.Write(a)
	w, _ = mw.CreateFormFile("f2", "b.txt")
	w.Write(b)
	mw.Close()
	req, _ := http.NewRequestWithContext(t.Context(), "POST", url+"/api/upload", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 || !strings.Contains(string(out), fmt.Sprintf("%x", sha256.Sum256(a))) {
		t.Fatalf("upload: %d %s", resp.StatusCode, out)
	}

	type entry struct {
		Name string
		Size int64
		Type string
	}
	var page struct{ Data []entry }
	if s := e.Do("GET", "/api/list/files?path=/in/2026", tok, nil, &page); s != 200 || len(page.Data) != 1 ||
		page.Data[0].Name != "report one.pdf" || page.Data[0].Size != int64(len(a)) {
		t.Fatalf("list files: %d %+v", s, page)
	}
	page.Data = nil
	if s := e.Do("GET", "/api/list/dirs?path=/in", tok, nil, &page); s != 200 || len(page.Data) != 1 || page.Data[0].Name != "2026" {
		t.Fatalf("list dirs: %d %+v", s, page)
	}

	get := func(path, rng string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "GET", url+"/api/download/single?path="+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("download %s: %v", path, err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, got
	}
	if s, got := get("/in/2026/report%20one.pdf", ""); s != 200 || !bytes.Equal(got, a) {
		t.Fatalf("download: %d, %d bytes", s, len(got))
	}
	if s, got := get("/in/2026/report%20one.pdf", "bytes=1000-"); s != 206 || !bytes.Equal(got, a[1000:]) {
		t.Fatalf("ranged download: %d, %d bytes", s, len(got))
	}

	if s := e.Do("POST", "/api/move", tok, map[string]string{"from": "/in/notes.txt", "to": "/in/2026/notes.txt"}, nil); s != 200 {
		t.Fatalf("move file: %d", s)
	}
	if s := e.Do("POST", "/api/move", tok, map[string]string{"from": "/in", "to": "/archive"}, nil); s != 200 {
		t.Fatalf("move folder: %d", s)
	}
	if s, got := get("/archive/2026/notes.txt", ""); s != 200 || !bytes.Equal(got, b) {
		t.Fatalf("download after moves: %d %q", s, got)
	}
	if s, _ := get("/in/2026/report%20one.pdf", ""); s != 404 {
		t.Fatalf("download from the old folder: %d, want 404", s)
	}
	if s := e.Do("POST", "/api/delete", tok, map[string]any{"path": "/archive", "recursive": true}, nil); s != 200 {
		t.Fatalf("delete: %d", s)
	}
	page.Data = nil
	if s := e.Do("GET", "/api/list/dirs?path=/", tok, nil, &page); s != 200 || len(page.Data) != 0 {
		t.Fatalf("list after delete: %d %+v", s, page)
	}
}
