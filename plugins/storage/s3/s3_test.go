package s3_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/filegate/filegate/conformance/storagetest"
	"github.com/filegate/filegate/conformance/testservers"
	"github.com/filegate/filegate/core/gateway/gatewaytest"
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/internal/objstore/objstoretest"
	"github.com/filegate/filegate/plugins/storage/s3"
)

const bucket = testservers.Bucket

// server is an S3 endpoint for the tests.
type server struct{ *testservers.S3 }

// config returns the plugin's config table for a storage under prefix, with small
// parts.
func (sv server) config(prefix string) map[string]any {
	cfg := sv.Config(prefix)
	cfg["part_size"], cfg["concurrency"] = int64(5<<20), int64(2)
	return cfg
}

// open opens a Storage under prefix.
func (sv server) open(t testing.TB, prefix string) *s3.Storage {
	t.Helper()
	st, err := s3.Open(sv.config(prefix))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return st.(*s3.Storage)
}

// fake starts gofakes3 in process.
func fake(t testing.TB) server {
	t.Helper()
	ts := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(ts.Close)
	return server{testservers.NewS3(t, ts.URL)}
}

// versitygw starts versitygw, or skips the test.
func versitygw(t testing.TB) server { return server{testservers.Versitygw(t)} }

// prefixes gives each storage of a test its own prefix in the shared bucket.
var prefixes atomic.Int64

func conformance(t *testing.T, sv server) {
	storagetest.Run(t, func(t *testing.T) hostapi.Storage {
		return sv.open(t, fmt.Sprintf("conformance/%d", prefixes.Add(1)))
	})
}

func TestConformanceGofakes3(t *testing.T) { conformance(t, fake(t)) }

func TestConformanceVersitygw(t *testing.T) { conformance(t, versitygw(t)) }

// TestMultipart writes files around the part size and reads them back whole and
// from offsets.
func TestMultipart(t *testing.T) {
	for name, start := range map[string]func(testing.TB) server{"gofakes3": fake, "versitygw": versitygw} {
		t.Run(name, func(t *testing.T) {
			st := start(t).open(t, "multipart")
			for _, size := range []int{5 << 20, 5<<20 + 1, 17<<20 + 3} {
				data := objstoretest.RandomBytes(size)
				name := fmt.Sprintf("/f%d", size)
				objstoretest.Put(t, st, name, data)
				for _, off := range []int{0, 1, 5 << 20, size - 1, size} {
					if got := objstoretest.Read(t, st, name, int64(off)); !bytes.Equal(got, data[off:]) {
						t.Errorf("%s from %d: %d bytes, want %d", name, off, len(got), size-off)
					}
				}
			}
		})
	}
}

// TestAbortLeavesNothing aborts a multipart upload: no object, no upload left.
func TestAbortLeavesNothing(t *testing.T) {
	sv := versitygw(t)
	st := sv.open(t, "abort")
	u, err := st.Create(t.Context(), "/big")
	if err != nil {
		t.Fatal(err)
	}
	u.Write(objstoretest.RandomBytes(11 << 20))
	if err := u.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if _, err := st.Stat(t.Context(), "/big"); !errors.Is(err, hostapi.ErrNotExist) {
		t.Errorf("Stat after Abort: %v", err)
	}
	if n := pendingUploads(t, sv); n != 0 {
		t.Errorf("%d multipart uploads left after Abort", n)
	}
}

// TestSweepTemp leaves a multipart upload behind, as a killed gateway would, and
// checks that the next Storage's SweepTemp aborts it, and no object appeared.
func TestSweepTemp(t *testing.T) {
	sv := versitygw(t)
	crashed := sv.open(t, "sweep")
	u, err := crashed.Create(t.Context(), "/dir-less")
	if err != nil {
		t.Fatal(err)
	}
	u.Write(objstoretest.RandomBytes(6 << 20)) // one part sent; never committed
	if n := pendingUploads(t, sv); n != 1 {
		t.Fatalf("%d multipart uploads in progress, want 1", n)
	}
	restarted := sv.open(t, "sweep")
	removed, err := restarted.SweepTemp(t.Context())
	if err != nil || removed != 1 {
		t.Fatalf("SweepTemp = %d, %v; want 1", removed, err)
	}
	if n := pendingUploads(t, sv); n != 0 {
		t.Errorf("%d multipart uploads left after SweepTemp", n)
	}
	if _, err := restarted.Stat(t.Context(), "/dir-less"); !errors.Is(err, hostapi.ErrNotExist) {
		t.Errorf("Stat of the interrupted upload: %v", err)
	}
	u.Abort()
}

func pendingUploads(t *testing.T, sv server) int {
	t.Helper()
	out, err := sv.Client.ListMultipartUploads(t.Context(), &awss3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("list multipart uploads: %v", err)
	}
	return len(out.Uploads)
}

// TestFolderWithoutMarker: objects written by other tools make implicit folders.
func TestFolderWithoutMarker(t *testing.T) {
	sv := fake(t)
	for _, key := range []string{"implicit/a/b/c.txt", "implicit/a.txt", "implicit/a-1"} {
		_, err := sv.Client.PutObject(t.Context(), &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader("x")})
		if err != nil {
			t.Fatal(err)
		}
	}
	st := sv.open(t, "implicit")
	for _, dir := range []string{"/a", "/a/b"} {
		if fi, err := st.Stat(t.Context(), dir); err != nil || !fi.IsDir {
			t.Errorf("Stat(%q) = %+v, %v; want a folder", dir, fi, err)
		}
	}
	// Byte order puts "a-1" and "a.txt" before "a/": name order does not.
	for _, limit := range []int{1, 2, 3} {
		var names []string
		opts := hostapi.ListOptions{Limit: limit}
		for {
			page, err := st.List(t.Context(), "/", opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page.Entries {
				names = append(names, e.Name)
			}
			if opts.Cursor = page.NextCursor; opts.Cursor == "" {
				break
			}
		}
		if got := strings.Join(names, ","); got != "a,a-1,a.txt" {
			t.Errorf("List with limit %d = %s, want a,a-1,a.txt", limit, got)
		}
	}
	if err := st.Remove(t.Context(), "/a/b"); !errors.Is(err, hostapi.ErrNotEmpty) {
		t.Errorf("Remove of an implicit folder with a file: %v", err)
	}
}

// keys lists the raw keys below prefix+sub, relative to prefix.
func (sv server) keys(t *testing.T, prefix string) func(sub string) []string {
	return func(sub string) []string {
		t.Helper()
		var keys []string
		p := awss3.NewListObjectsV2Paginator(sv.Client, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix + sub)})
		for p.HasMorePages() {
			out, err := p.NextPage(t.Context())
			if err != nil {
				t.Fatalf("list %q: %v", prefix+sub, err)
			}
			for _, o := range out.Contents {
				keys = append(keys, strings.TrimPrefix(aws.ToString(o.Key), prefix))
			}
		}
		return keys
	}
}

// TestRenameResumes interrupts a folder rename after its first progress report and
// finishes it by calling it again.
func TestRenameResumes(t *testing.T) {
	for name, start := range map[string]func(testing.TB) server{"gofakes3": fake, "versitygw": versitygw} {
		t.Run(name, func(t *testing.T) {
			sv := start(t)
			objstoretest.ResumeScenario(t, sv.open(t, "resume"), sv.keys(t, "resume/"))
		})
	}
}

func TestOpenConfig(t *testing.T) {
	sv := fake(t)
	for key, bad := range map[string]any{
		"bucket":      "",
		"part_size":   int64(1 << 20),
		"concurrency": int64(0),
		"path_style":  "yes",
		"endpoint":    "not a url",
		"prefix":      "a/../b",
		"unknown":     1,
	} {
		cfg := sv.config("x")
		cfg[key] = bad
		_, err := s3.Open(cfg)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", key)) {
			t.Errorf("Open with %s = %v: error %v does not name the key", key, bad, err)
		}
	}
	cfg := sv.config("x")
	delete(cfg, "secret_key")
	if _, err := s3.Open(cfg); err == nil || !strings.Contains(err.Error(), `"secret_key"`) {
		t.Errorf("Open without secret_key: %v", err)
	}
	cfg = sv.config("x")
	cfg["bucket"] = "missing"
	if _, err := s3.Open(cfg); err == nil || !strings.Contains(err.Error(), `"bucket"`) {
		t.Errorf("Open of a missing bucket: %v", err)
	}
	cfg = sv.config("x")
	cfg["part_size"] = "16MiB"
	if _, err := s3.Open(cfg); err != nil {
		t.Errorf("Open with part_size 16MiB: %v", err)
	}
}

// TestGatewayREST runs a gateway whose primary storage is S3 (versitygw) and drives it
// through the REST API.
func TestGatewayREST(t *testing.T) {
	sv := versitygw(t)
	e := gatewaytest.Start(t, sv.StorageTOML("default", "gateway"), nil)
	objstoretest.RESTScenario(t, e, e.URL)
}

// TestGatewayMoveProgress moves a folder of a few hundred objects through the REST API
// of a gateway on S3 (versitygw) and checks its dir.moving events.
func TestGatewayMoveProgress(t *testing.T) {
	sv := versitygw(t)
	e := gatewaytest.Start(t, sv.StorageTOML("default", "progress"), nil)
	objstoretest.MoveProgressScenario(t, e, e.URL)
}

// TestParallelUploadMemory streams 4 uploads at once and checks that the heap stays
// within the bound of (concurrency+1) × part_size per upload, plus overhead.
func TestParallelUploadMemory(t *testing.T) {
	sv := versitygw(t)
	st := sv.open(t, "memory")
	size := int64(64 << 20)
	if os.Getenv("FILEGATE_BIG") != "" {
		size = 256 << 20
	}
	peak := objstoretest.ParallelUploads(t, st, 4, size)
	const bound = 4*3*5<<20 + 40<<20 // 4 uploads × 3 parts of 5 MiB, and the rest
	t.Logf("4 parallel uploads of %d MiB: heap and part buffers peak %.1f MiB above the start", size>>20, float64(peak)/(1<<20))
	if peak > bound {
		t.Errorf("heap grew by %d MiB, want under %d MiB", peak>>20, bound>>20)
	}
}

// BenchmarkVersitygw1GiB uploads and downloads 1 GiB through the plugin; run with
// -bench Versitygw -benchtime 1x.
func BenchmarkVersitygw1GiB(b *testing.B) {
	sv := versitygw(b)
	cfg := sv.config("bench")
	cfg["part_size"], cfg["concurrency"] = int64(8<<20), int64(4)
	st, err := s3.Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	objstoretest.Throughput(b, st, 1<<30)
}

// BenchmarkParallelUploads streams 4 uploads of 256 MiB at once and reports the heap
// peak.
func BenchmarkParallelUploads(b *testing.B) {
	sv := versitygw(b)
	st := sv.open(b, "parallel")
	for b.Loop() {
		peak := objstoretest.ParallelUploads(b, st, 4, 256<<20)
		b.ReportMetric(float64(peak)/(1<<20), "heap-peak-MiB")
	}
}
