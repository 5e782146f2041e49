// Package objstoretest holds what the object-store plugins' tests share: a gateway
// scenario over the REST API, and memory and throughput measurements. The servers
// themselves are started by conformance/testservers.
package objstoretest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/internal/objstore"
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
// peak (sampled every 20 ms) above what it was before of the memory they hold: the
// live Go heap plus the part buffers outside it (the process's anonymous resident
// memory minus the heap's, on Linux). Each sample follows a forced collection, so
// garbage the collector has not reached yet does not count: how much of it there may
// be depends on GOGC and on how busy the machine is, not on the uploads.
func ParallelUploads(t testing.TB, s hostapi.Storage, n int, size int64) (peak uint64) {
	t.Helper()
	runtime.GC()
	base := memInUse()
	stop, sampled := make(chan struct{}), make(chan uint64)
	go func() {
		var top uint64
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.GC()
			top = max(top, memInUse())
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

// memInUse returns the Go heap in use plus the part buffers held outside it. (The
// process's resident memory would not do: the runtime's own accounting of what it
// holds lags what the system reports by tens of MiB.)
func memInUse() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + uint64(objstore.PartMemory())
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

// uploadMany uploads the files (path → bytes) in one multipart POST /api/upload.
func uploadMany(t *testing.T, url, tok string, files map[string][]byte) {
	t.Helper()
	type fileMeta struct {
		Field string `json:"field"`
		Path  string `json:"path"`
	}
	var meta struct {
		Files []fileMeta `json:"files"`
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	i := 0
	for p := range files {
		i++
		meta.Files = append(meta.Files, fileMeta{Field: fmt.Sprintf("f%d", i), Path: p})
	}
	m, err := json.Marshal(meta)
	if err != nil {
		t.Fatal(err)
	}
	mw.WriteField("meta", string(m))
	for _, f := range meta.Files {
		w, _ := mw.CreateFormFile(f.Field, path.Base(f.Path))
		w.Write(files[f.Path])
	}
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
	if resp.StatusCode/100 != 2 {
		t.Fatalf("upload of %d files: %d %s", len(files), resp.StatusCode, out)
	}
}

// treeFiles returns n small files, with distinct contents, below dir: a third of
// them in its subfolder "sub".
func treeFiles(dir string, n int) map[string][]byte {
	files := make(map[string][]byte, n)
	for i := range n {
		p := fmt.Sprintf("%s/f%03d.txt", dir, i)
		if i%3 == 0 {
			p = fmt.Sprintf("%s/sub/g%03d.txt", dir, i)
		}
		files[p] = fmt.Appendf(nil, "file %d\n", i)
	}
	return files
}

// MoveProgressScenario uploads a folder of a few hundred files through the REST API
// of a gateway whose primary storage is the object store under test, moves it with
// POST /api/move, and checks the events: dir.moving events with done increasing up
// to the right total, then one file.moved; and that every file moved.
func MoveProgressScenario(t *testing.T, e GatewayEnv, url string) {
	tok := e.Token()
	const n = 250
	files := treeFiles("/big", n)
	uploadMany(t, url, tok, files)
	if s := e.Do("POST", "/api/move", tok, map[string]string{"from": "/big", "to": "/moved"}, nil); s != 200 {
		t.Fatalf("move folder: %d", s)
	}
	type event struct {
		ID          int64
		Type, Path  string
		From        string
		Done, Total int64
		IsDir       bool `json:"is_dir"`
	}
	var progress, moved struct{ Data []event }
	if s := e.Do("GET", "/events?type=dir.moving&limit=100", tok, nil, &progress); s != 200 {
		t.Fatalf("GET /events?type=dir.moving: %d", s)
	}
	if s := e.Do("GET", "/events?type=file.moved&path=/moved", tok, nil, &moved); s != 200 || len(moved.Data) != 1 {
		t.Fatalf("GET /events?type=file.moved: %d, %+v; want one event", s, moved.Data)
	}
	// The objects below /big: the files and the marker of /big/sub.
	const total = n + 1
	evs := progress.Data
	slices.Reverse(evs) // oldest first
	if len(evs) != (total+99)/100 {
		t.Fatalf("%d dir.moving events, want %d: %+v", len(evs), (total+99)/100, evs)
	}
	for i, ev := range evs {
		want := min(int64(i+1)*100, total)
		if ev.Done != want || ev.Total != total || ev.Path != "/moved" || ev.From != "/big" || !ev.IsDir || ev.ID >= moved.Data[0].ID {
			t.Errorf("dir.moving event %d = %+v; want done %d of %d, from /big to /moved, before file.moved %d", i, ev, want, total, moved.Data[0].ID)
		}
	}
	var tree struct{ Data []struct{ Path, Type string } }
	if s := e.Do("GET", "/api/list/tree?path=/moved", tok, nil, &tree); s != 200 {
		t.Fatalf("GET /api/list/tree: %d", s)
	}
	got := 0
	for _, f := range tree.Data {
		if f.Type == "file" {
			got++
		}
	}
	if got != n {
		t.Errorf("/api/list/tree of /moved has %d files, want %d", got, n)
	}
}

// ResumeScenario interrupts a folder rename on s after its first progress report (by
// cancelling its context), checks that every object is at its old or its new key,
// resumes it by calling Rename again, and checks with keys (which lists the raw keys
// below a key prefix of the store's root) that every object is at its new key exactly
// once, nothing is left at the old ones, nor the rename's bookkeeping.
func ResumeScenario(t *testing.T, s hostapi.Storage, keys func(prefix string) []string) {
	ctx := t.Context()
	const n = 250
	files := treeFiles("/from", n)
	for _, dir := range []string{"/from", "/from/sub"} {
		if err := s.Mkdir(ctx, dir); err != nil {
			t.Fatal(err)
		}
	}
	for p, data := range files {
		Put(t, s, p, data)
	}
	// The objects to move: the files and the marker of /from/sub.
	want := []string{"to/", "to/sub/"}
	for p := range files {
		want = append(want, strings.TrimPrefix(strings.Replace(p, "/from/", "/to/", 1), "/"))
	}
	slices.Sort(want)

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var first []hostapi.Progress
	cctx = hostapi.WithProgress(cctx, func(p hostapi.Progress) {
		first = append(first, p)
		cancel()
	})
	if err := s.Rename(cctx, "/from", "/to"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Rename cancelled after its first report: %v", err)
	}
	if len(first) != 1 || first[0].Done != 100 || first[0].Total != n+1 {
		t.Fatalf("progress before the interruption: %+v; want done 100 of %d", first, n+1)
	}
	movedKeys, leftKeys := keys("to/"), keys("from/")
	// The n+1 objects, the marker of /from and the rename's mark in to/; the marker of
	// /to comes last.
	if len(movedKeys) != 100+1 || len(leftKeys) != n+1-100+1 {
		t.Errorf("after the interruption: %d keys below to/, %d below from/; want 101 and %d", len(movedKeys), len(leftKeys), n+2-100)
	}

	var resumed []hostapi.Progress
	rctx := hostapi.WithProgress(ctx, func(p hostapi.Progress) { resumed = append(resumed, p) })
	if err := s.Rename(rctx, "/from", "/to"); err != nil {
		t.Fatalf("resuming the rename: %v", err)
	}
	if len(resumed) == 0 || resumed[len(resumed)-1].Done != resumed[len(resumed)-1].Total || resumed[len(resumed)-1].Total != n+1-100 {
		t.Errorf("progress of the resumed rename: %+v; want it to end at %d of %d", resumed, n+1-100, n+1-100)
	}
	if got := keys(""); !slices.Equal(got, want) {
		t.Errorf("keys after the resumed rename (%d):\n%q\nwant (%d):\n%q", len(got), got, len(want), want)
	}
	for p, data := range files {
		if got := Read(t, s, strings.Replace(p, "/from/", "/to/", 1), 0); !bytes.Equal(got, data) {
			t.Errorf("%s after the move: %q, want %q", p, got, data)
		}
	}
}
