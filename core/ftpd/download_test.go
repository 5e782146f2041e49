package ftpd_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/filegate/filegate/core/config"
	"github.com/filegate/filegate/core/internal/clienttest"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestDownloadEvents checks the bytes and the file.downloaded events of RETR with curl,
// over plain FTP (sent from the file with sendfile) and explicit FTPS (copied through
// TLS): a whole download of an uploaded file carries the SHA-256 recorded at upload, one
// of a file changed behind the gateway's back (or never seen by it) the SHA-256 of
// what was sent, and a resumed download (REST) its size and no SHA-256.
func TestDownloadEvents(t *testing.T) {
	t.Parallel()
	clienttest.Need(t, "curl")
	for _, tc := range []struct {
		mode  string
		flags []string
	}{
		{"off", nil},
		{"explicit", []string{"--ssl-reqd", "-k"}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			e := clienttest.Start(t, func(c *config.Config) { c.FTP.TLS = tc.mode })
			e.CreateAccount(t, map[string]any{"Username": "dl"})
			dir := t.TempDir()
			curl := func(args ...string) {
				clienttest.Run(t, dir, false, "curl", append(append([]string{"-sS", "--fail"}, tc.flags...), args...)...)
			}
			get := func(remote string, args ...string) []byte {
				t.Helper()
				os.Remove(filepath.Join(dir, "out.bin"))
				curl(append(args, "-o", "out.bin", ftpURL(e, "ftp", "dl", remote))...)
				b, _ := os.ReadFile(filepath.Join(dir, "out.bin"))
				return b
			}
			lastDownload := func() hostapi.Event {
				t.Helper()
				evs := e.Events(t, hostapi.EventFileDownloaded)
				if len(evs) == 0 {
					t.Fatal("no file.downloaded event")
				}
				return evs[0] // newest first
			}
			data := clienttest.Content("dl-"+tc.mode, 3<<20+5)
			clienttest.WriteFile(t, dir, "in.bin", data)
			curl("-T", "in.bin", ftpURL(e, "ftp", "dl", "/f.bin"))

			if got := get("/f.bin"); !bytes.Equal(got, data) {
				t.Fatalf("downloaded %d bytes, differing from the %d uploaded", len(got), len(data))
			}
			if ev := lastDownload(); ev.Size != int64(len(data)) || ev.SHA256 != sum(data) {
				t.Errorf("whole download: size %d sha256 %s, want %d %s", ev.Size, ev.SHA256, len(data), sum(data))
			}

			// Resumed: curl -C - sends REST with the size of the partial file.
			clienttest.WriteFile(t, dir, "out.bin", data[:1<<20])
			curl("-C", "-", "-o", "out.bin", ftpURL(e, "ftp", "dl", "/f.bin"))
			if got, _ := os.ReadFile(filepath.Join(dir, "out.bin")); !bytes.Equal(got, data) {
				t.Fatalf("resumed download: %d bytes, differing", len(got))
			}
			if ev := lastDownload(); ev.Size != int64(len(data)-1<<20) || ev.SHA256 != "" {
				t.Errorf("resumed download: size %d sha256 %q, want %d and none", ev.Size, ev.SHA256, len(data)-1<<20)
			}

			// Changed behind the gateway's back, same size: the new mtime tells.
			changed := bytes.ToUpper(data)
			changed[0] ^= 0xff
			stored := filepath.Join(e.StorageRoot(), "f.bin")
			if err := os.WriteFile(stored, changed, 0o644); err != nil {
				t.Fatal(err)
			}
			os.Chtimes(stored, time.Time{}, time.Now().Add(time.Hour))
			if got := get("/f.bin"); !bytes.Equal(got, changed) {
				t.Fatal("download after the change differs")
			}
			if ev := lastDownload(); ev.SHA256 != sum(changed) {
				t.Errorf("download of a changed file: sha256 %s, want %s (hashed)", ev.SHA256, sum(changed))
			}

			// Never uploaded through the gateway: hashed as it is sent.
			other := clienttest.Content("other", 1<<20+1)
			os.WriteFile(filepath.Join(e.StorageRoot(), "other.bin"), other, 0o644)
			if got := get("/other.bin"); !bytes.Equal(got, other) {
				t.Fatal("download of an unknown file differs")
			}
			if ev := lastDownload(); ev.Size != int64(len(other)) || ev.SHA256 != sum(other) {
				t.Errorf("download of an unknown file: size %d sha256 %s, want %d %s", ev.Size, ev.SHA256, len(other), sum(other))
			}
		})
	}
}
