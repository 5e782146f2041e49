package httpapi_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/filegate/filegate/core/gateway/gatewaytest"
)

// TestCurlDownloadEvents checks with curl the bytes and the file.downloaded events of
// GET /api/download/single: a whole download of a file uploaded through the gateway
// (sent from the file with sendfile) carries the SHA-256 recorded at upload; a range to
// the end of the file, its size and no SHA-256; a file changed behind the gateway's
// back, or never seen by it, the SHA-256 of what was sent.
func TestCurlDownloadEvents(t *testing.T) {
	need(t, "curl")
	e := gatewaytest.Start(t, "", nil)
	tok := e.Token()
	work := t.TempDir()
	data := randomBytes(5<<20 + 3)
	os.WriteFile(filepath.Join(work, "in.bin"), data, 0o644)
	run(t, work, "curl", "-sS", "-f", "-H", "Authorization: Bearer "+tok, "-F", "f=@in.bin;filename=d.bin", e.URL+"/api/upload")

	get := func(p string, args ...string) []byte {
		t.Helper()
		os.Remove(filepath.Join(work, "out.bin"))
		run(t, work, "curl", append([]string{"-sS", "-f", "-o", "out.bin", "-H", "Authorization: Bearer " + tok}, append(args, e.URL+"/api/download/single?path="+p)...)...)
		b, _ := os.ReadFile(filepath.Join(work, "out.bin"))
		return b
	}
	last := func() event {
		t.Helper()
		var evs listOf[event]
		e.Do("GET", "/events?type=file.downloaded", tok, nil, &evs)
		if len(evs.Data) == 0 {
			t.Fatal("no file.downloaded event")
		}
		return evs.Data[0]
	}

	if got := get("/d.bin"); !bytes.Equal(got, data) {
		t.Fatalf("downloaded %d bytes, differing from the %d uploaded", len(got), len(data))
	}
	if ev := last(); ev.Size != int64(len(data)) || ev.SHA256 != sha(data) || ev.Protocol != "http" {
		t.Errorf("whole download: %+v, want size %d sha256 %s", ev, len(data), sha(data))
	}

	if got := get("/d.bin", "-r", "1000-"); !bytes.Equal(got, data[1000:]) {
		t.Fatalf("range 1000-: %d bytes, differing", len(got))
	}
	if ev := last(); ev.Size != int64(len(data)-1000) || ev.SHA256 != "" {
		t.Errorf("range to the end: size %d sha256 %q, want %d and none", ev.Size, ev.SHA256, len(data)-1000)
	}

	changed := bytes.Clone(data)
	changed[len(changed)/2] ^= 0x5a
	stored := filepath.Join(storageDir(e), "d.bin")
	os.WriteFile(stored, changed, 0o644)
	os.Chtimes(stored, time.Time{}, time.Now().Add(time.Hour))
	if got := get("/d.bin"); !bytes.Equal(got, changed) {
		t.Fatal("download after the change differs")
	}
	if ev := last(); ev.SHA256 != sha(changed) {
		t.Errorf("changed file: sha256 %s, want %s (hashed)", ev.SHA256, sha(changed))
	}

	other := randomBytes(700_001)
	os.WriteFile(filepath.Join(storageDir(e), "other.bin"), other, 0o644)
	if got := get("/other.bin"); !bytes.Equal(got, other) {
		t.Fatal("download of an unknown file differs")
	}
	if ev := last(); ev.Size != int64(len(other)) || ev.SHA256 != sha(other) {
		t.Errorf("unknown file: size %d sha256 %s, want %d %s", ev.Size, ev.SHA256, len(other), sha(other))
	}
}
