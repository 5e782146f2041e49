package gateway_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/filegate/filegate/conformance/testservers"
	"github.com/filegate/filegate/core/config"
	"github.com/filegate/filegate/core/internal/clienttest"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// objectStores start each object-storage server and return the [[storage]] table that
// makes it the gateway's primary storage.
var objectStores = []struct {
	name  string
	start func(t testing.TB) string
}{
	{"s3-versitygw", func(t testing.TB) string { return testservers.Versitygw(t).StorageTOML("default", "primary") }},
	{"azureblob-azurite", func(t testing.TB) string { return testservers.Azurite(t).StorageTOML("default", "primary") }},
}

// realClientChecks are the protocols' real-client checks, each on its own account
// confined to its own folder of one gateway.
var realClientChecks = []struct {
	name     string
	programs []string
	run      func(t *testing.T, e *clienttest.Env, user string)
}{
	{"openssh-sftp", []string{"sftp", "ssh-keygen"}, checkOpenSSH},
	{"curl-ftp-ftps", []string{"curl"}, checkCurlFTP},
	{"lftp-mirror", []string{"lftp", "diff"}, checkLftpMirror},
	{"rclone-sftp", []string{"rclone"}, checkRclone},
	{"http-zip", []string{"curl", "unzip"}, checkHTTPZip},
	{"sftp-reversed-writes", nil, checkReversedWrites},
}

// TestRealClientsOnObjectStorage runs the real-client checks with the primary storage
// on S3 (versitygw) and on Azure Blob Storage (Azurite).
func TestRealClientsOnObjectStorage(t *testing.T) {
	for _, store := range objectStores {
		t.Run(store.name, func(t *testing.T) {
			t.Parallel()
			e := clienttest.StartWith(t, store.start(t), func(c *config.Config) { c.FTP.TLS = "explicit" })
			for _, check := range realClientChecks {
				t.Run(check.name, func(t *testing.T) {
					clienttest.Need(t, check.programs...)
					check.run(t, e, check.name)
				})
			}
		})
	}
}

// checkOpenSSH drives OpenSSH sftp with key authentication: mkdir, put, rename, ls,
// get, rm, rmdir.
func checkOpenSSH(t *testing.T, e *clienttest.Env, user string) {
	work := t.TempDir()
	key, pub := clienttest.SSHKey(t, work)
	e.CreateAccount(t, map[string]any{"Username": user, "SSHPublicKeys": []string{pub}, "Chroot": "/" + user})
	auth := []string{"-i", key, "-o", "PasswordAuthentication=no"}
	data := clienttest.Content(user, 3<<20+5)
	clienttest.WriteFile(t, work, "local file.bin", data)
	e.SFTPBatch(t, work, user, auth,
		`mkdir "in box"`,
		`put "local file.bin" "in box/Ünïcode ✓.bin"`,
		`rename "in box/Ünïcode ✓.bin" "in box/renamed.bin"`,
		`get "in box/renamed.bin" back.bin`,
	)
	if out := e.SFTPBatch(t, work, user, auth, `ls -l "in box"`); !strings.Contains(out, "renamed.bin") || strings.Contains(out, "Ünïcode") {
		t.Errorf("ls after the rename:\n%s", out)
	}
	if got, _ := os.ReadFile(filepath.Join(work, "back.bin")); !bytes.Equal(got, data) {
		t.Errorf("downloaded %d bytes, differing from the %d uploaded", len(got), len(data))
	}
	e.SFTPBatch(t, work, user, auth, `rm "in box/renamed.bin"`, `rmdir "in box"`)
	if out := e.SFTPBatch(t, work, user, auth, `ls -a /`); strings.Contains(out, "in box") {
		t.Errorf("the folder is still listed after rmdir:\n%s", out)
	}
	if n := countEvents(t, e, hostapi.EventFileUploaded, "sftp", "/"+user+"/"); n != 1 {
		t.Errorf("%d file.uploaded events over sftp, want 1", n)
	}
}

// checkCurlFTP uploads, downloads and lists with curl over plain FTP and over FTPS
// (explicit TLS).
func checkCurlFTP(t *testing.T, e *clienttest.Env, user string) {
	e.CreateAccount(t, map[string]any{"Username": user, "Chroot": "/" + user})
	work := t.TempDir()
	for _, mode := range []struct {
		protocol string
		flags    []string
	}{{"ftp", nil}, {"ftps", []string{"--ssl-reqd", "-k"}}} {
		data := clienttest.Content(mode.protocol, 2<<20+3)
		clienttest.WriteFile(t, work, "in.bin", data)
		remote := "/photos " + mode.protocol + "/Grüße.bin"
		u := (&url.URL{Scheme: "ftp", User: url.UserPassword(user, clienttest.Password), Host: e.FTPAddr(), Path: remote}).String()
		curl := func(args ...string) string {
			return clienttest.Run(t, work, false, "curl", append(append([]string{"-sS", "--fail"}, mode.flags...), args...)...)
		}
		curl("--ftp-create-dirs", "-T", "in.bin", u)
		curl("-o", "out.bin", u)
		if got, _ := os.ReadFile(filepath.Join(work, "out.bin")); !bytes.Equal(got, data) {
			t.Errorf("%s: downloaded %d bytes, differing from the %d uploaded", mode.protocol, len(got), len(data))
		}
		list := curl(strings.TrimSuffix(u, "Gr%C3%BC%C3%9Fe.bin"))
		if !strings.Contains(list, "Grüße.bin") || !strings.Contains(list, fmt.Sprint(len(data))) {
			t.Errorf("%s: LIST = %q", mode.protocol, list)
		}
		if n := countEvents(t, e, hostapi.EventFileUploaded, mode.protocol, "/"+user+"/"); n != 1 {
			t.Errorf("%d file.uploaded events over %s, want 1", n, mode.protocol)
		}
	}
}

// treeFiles is the size of the trees mirrored and copied: enough for many listings
// and parallel transfers, few enough to keep object-storage round trips quick.
const treeFiles = 100

// writeTree writes treeFiles files in nested folders under dir.
func writeTree(t *testing.T, dir string) {
	for i := range treeFiles {
		name := fmt.Sprintf("dir %02d/sub ü/file %03d é.txt", i%10, i)
		if i%3 == 0 {
			name = fmt.Sprintf("dir %02d/file %03d.txt", i%10, i)
		}
		clienttest.WriteFile(t, dir, name, clienttest.Content(name, 100+i*331))
	}
}

// checkLftpMirror mirrors a tree up and back down with lftp over FTPS, and compares.
func checkLftpMirror(t *testing.T, e *clienttest.Env, user string) {
	e.CreateAccount(t, map[string]any{"Username": user, "Chroot": "/" + user})
	src, back := t.TempDir(), t.TempDir()
	writeTree(t, src)
	script := fmt.Sprintf(`set ssl:verify-certificate no; set ftp:ssl-force yes; set ftp:ssl-protect-data yes; set net:max-retries 1; set cmd:fail-exit yes
open -u %s,%s -p %d 127.0.0.1
mirror -R --parallel=4 %q /tree
mirror --parallel=4 /tree %q
`, user, clienttest.Password, e.FTPPort, src, filepath.Join(back, "tree"))
	clienttest.Run(t, back, false, "lftp", "-c", script)
	clienttest.Run(t, back, false, "diff", "-r", src, filepath.Join(back, "tree"))
	if n := countEvents(t, e, hostapi.EventFileUploaded, "ftps", "/"+user+"/"); n != treeFiles {
		t.Errorf("%d file.uploaded events over ftps, want %d", n, treeFiles)
	}
}

// checkRclone copies a tree with rclone's on-the-fly SFTP remote, then has rclone
// check it.
func checkRclone(t *testing.T, e *clienttest.Env, user string) {
	e.CreateAccount(t, map[string]any{"Username": user, "Chroot": "/" + user})
	work := t.TempDir()
	src := filepath.Join(work, "src")
	writeTree(t, src)
	pass := strings.TrimSpace(clienttest.Run(t, work, false, "rclone", "obscure", clienttest.Password))
	host, port, _ := strings.Cut(e.SFTPAddr(), ":")
	remote := fmt.Sprintf(":sftp,host=%s,port=%s,user=%s,pass=%s:/copy", host, port, user, pass)
	flags := []string{"--config", "/dev/null", "--transfers", "4", "--checkers", "4", "--retries", "1", "--low-level-retries", "2"}
	clienttest.Run(t, work, false, "rclone", append([]string{"copy", src, remote}, flags...)...)
	clienttest.Run(t, work, false, "rclone", append([]string{"check", src, remote}, flags...)...)
	if n := countEvents(t, e, hostapi.EventFileUploaded, "sftp", "/"+user+"/"); n != treeFiles {
		t.Errorf("%d file.uploaded events over sftp, want %d", n, treeFiles)
	}
}

// checkHTTPZip uploads files with curl through the REST API, then downloads their
// folder as a zip that unzip -t accepts and that holds them byte for byte.
func checkHTTPZip(t *testing.T, e *clienttest.Env, user string) {
	work := t.TempDir()
	files := map[string][]byte{
		"docs/a.txt":     []byte("alpha"),
		"docs/sub/b.bin": clienttest.Content("b", 3<<20+1),
		"docs/c.csv":     []byte("1,2,3\n"),
	}
	auth := "Authorization: Bearer " + e.Token()
	for name, data := range files {
		local := clienttest.WriteFile(t, work, "up/"+name, data)
		meta := fmt.Sprintf(`meta={"files":[{"field":"f","path":"/%s/%s"}]}`, user, name)
		clienttest.Run(t, work, false, "curl", "-sS", "--fail", "-H", auth, "-F", meta, "-F", "f=@"+local, e.URL+"/api/upload")
	}
	var prep struct{ ID string }
	if s := e.Do("POST", "/api/download/multi", e.Token(), map[string]any{"paths": []string{"/" + user + "/docs"}}, &prep); s != 200 || prep.ID == "" {
		t.Fatalf("POST /api/download/multi: %d", s)
	}
	clienttest.Run(t, work, false, "curl", "-sS", "--fail", "-o", "out.zip", e.URL+"/api/download/multi/"+prep.ID)
	if out := clienttest.Run(t, work, false, "unzip", "-t", "out.zip"); !strings.Contains(out, "No errors detected") {
		t.Fatalf("unzip -t: %s", out)
	}
	zr, err := zip.OpenReader(filepath.Join(work, "out.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		names = append(names, f.Name)
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, files[f.Name]) {
			t.Errorf("%s in the zip: %d bytes, %v; differing", f.Name, len(got), err)
		}
	}
	sort.Strings(names)
	if got := strings.Join(names, ","); got != "docs/a.txt,docs/c.csv,docs/sub/b.bin" {
		t.Errorf("the zip holds %s", got)
	}
}

// checkReversedWrites writes a file over SFTP in 32 KiB chunks from the last to the
// first, past the in-memory reorder bound of append-only storage: the writes held
// back spill to a temporary file and the object is stored whole.
func checkReversedWrites(t *testing.T, e *clienttest.Env, user string) {
	e.CreateAccount(t, map[string]any{"Username": user, "Chroot": "/" + user})
	c, err := clienttest.DialSSH("", e.SFTPAddr(), user, ssh.Password(clienttest.Password), true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data := clienttest.Content(user, 18<<20)
	f, err := c.SFTP.Create("/reversed.bin")
	if err != nil {
		t.Fatal(err)
	}
	// Eight writers take the chunks from the last to the first, so that round trips
	// overlap while the writes still arrive in nearly reverse order.
	offsets := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for off := range offsets {
				if _, err := f.WriteAt(data[off:off+32<<10], int64(off)); err != nil {
					t.Errorf("WriteAt(%d): %v", off, err)
				}
			}
		})
	}
	for off := len(data) - 32<<10; off >= 0; off -= 32 << 10 {
		offsets <- off
	}
	close(offsets)
	wg.Wait()
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	r, err := c.SFTP.Open("/reversed.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got bytes.Buffer
	if _, err := r.WriteTo(&got); err != nil || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("read back %d bytes (%v), differing from the %d written", got.Len(), err, len(data))
	}
}

// countEvents counts the events of type typ over protocol under the path prefix.
func countEvents(t *testing.T, e *clienttest.Env, typ, protocol, prefix string) int {
	n := 0
	for _, ev := range e.Events(t, typ) {
		if ev.Protocol == protocol && strings.HasPrefix(ev.Path, prefix) {
			n++
		}
	}
	return n
}
