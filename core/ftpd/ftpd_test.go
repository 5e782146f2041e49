package ftpd_test

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/filegate/filegate/core/config"
	"github.com/filegate/filegate/core/internal/clienttest"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// ftpURL is a URL for user on the FTP listener ("ftp" or "ftps" scheme).
func ftpURL(e *clienttest.Env, scheme, user, p string) string {
	u := url.URL{Scheme: scheme, User: url.UserPassword(user, clienttest.Password), Host: e.FTPAddr(), Path: p}
	return u.String()
}

func TestCurl(t *testing.T) {
	t.Parallel()
	clienttest.Need(t, "curl")
	for _, tc := range []struct {
		mode, scheme, protocol string
		flags                  []string
	}{
		{"off", "ftp", "ftp", nil},
		{"explicit", "ftp", "ftps", []string{"--ssl-reqd", "-k"}},
		{"implicit", "ftps", "ftps", []string{"-k"}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			e := clienttest.Start(t, func(c *config.Config) { c.FTP.TLS = tc.mode })
			e.CreateAccount(t, map[string]any{"Username": "cam"})
			dir := t.TempDir()
			data := clienttest.Content(tc.mode, 2<<20+3)
			clienttest.WriteFile(t, dir, "in.bin", data)
			curl := func(args ...string) string {
				return clienttest.Run(t, dir, false, "curl", append(append([]string{"-sS", "--fail"}, tc.flags...), args...)...)
			}
			remote := "/photos 2026/Grüße à tous.bin"
			curl("--ftp-create-dirs", "-T", "in.bin", ftpURL(e, tc.scheme, "cam", remote))
			curl("-o", "out.bin", ftpURL(e, tc.scheme, "cam", remote))
			if got, _ := os.ReadFile(filepath.Join(dir, "out.bin")); !bytes.Equal(got, data) {
				t.Fatalf("downloaded %d bytes, differing from the %d uploaded", len(got), len(data))
			}
			if list := curl(ftpURL(e, tc.scheme, "cam", "/photos 2026/")); !strings.Contains(list, "Grüße à tous.bin") || !strings.Contains(list, fmt.Sprint(len(data))) {
				t.Errorf("LIST = %q", list)
			}
			if names := curl("--list-only", ftpURL(e, tc.scheme, "cam", "/photos 2026/")); strings.TrimSpace(names) != "Grüße à tous.bin" {
				t.Errorf("NLST = %q", names)
			}
			ups := e.Events(t, hostapi.EventFileUploaded)
			if len(ups) != 1 || ups[0].Protocol != tc.protocol || ups[0].Path != remote || ups[0].Size != int64(len(data)) {
				t.Errorf("file.uploaded = %+v, want one over %s", ups, tc.protocol)
			}
			if downs := e.Events(t, hostapi.EventFileDownloaded); len(downs) != 1 || downs[0].SHA256 != ups[0].SHA256 {
				t.Errorf("file.downloaded = %+v", downs)
			}
		})
	}
}

func TestTLSRequired(t *testing.T) {
	t.Parallel()
	clienttest.Need(t, "curl")
	e := clienttest.Start(t, func(c *config.Config) { c.FTP.TLS, c.FTP.TLSRequired = "explicit", true })
	e.CreateAccount(t, map[string]any{"Username": "u"})
	dir := t.TempDir()
	clienttest.Run(t, dir, true, "curl", "-sS", "--fail", ftpURL(e, "ftp", "u", "/"))
	clienttest.Run(t, dir, false, "curl", "-sS", "--fail", "--ssl-reqd", "-k", ftpURL(e, "ftp", "u", "/"))
}

// TestLftpMirror mirrors a tree up and back with lftp: 500 files over plain FTP, and a
// smaller tree over FTPS (every data connection there is a TLS handshake, which the
// race detector makes slow).
func TestLftpMirror(t *testing.T) {
	clienttest.Need(t, "lftp", "diff")
	for _, tc := range []struct {
		protocol string
		files    int
	}{{"ftp", 500}, {"ftps", 60}} {
		t.Run(tc.protocol, func(t *testing.T) {
			t.Parallel()
			tls, settings := "off", "set ftp:ssl-allow no"
			if tc.protocol == "ftps" {
				tls, settings = "explicit", "set ssl:verify-certificate no; set ftp:ssl-force yes; set ftp:ssl-protect-data yes"
			}
			e := clienttest.Start(t, func(c *config.Config) { c.FTP.TLS = tls })
			e.CreateAccount(t, map[string]any{"Username": "mirror", "Chroot": "/m"})
			src, back := t.TempDir(), t.TempDir()
			for i := range tc.files {
				name := fmt.Sprintf("dir %02d/sub ü/file %03d é.txt", i%10, i)
				clienttest.WriteFile(t, src, name, clienttest.Content(name, 100+i*7))
			}
			script := fmt.Sprintf(`%s; set net:max-retries 1; set cmd:fail-exit yes
open -u mirror,%s -p %d 127.0.0.1
mirror -R --parallel=4 %q /tree
mirror --parallel=4 /tree %q
`, settings, clienttest.Password, e.FTPPort, src, filepath.Join(back, "tree"))
			clienttest.Run(t, back, false, "lftp", "-c", script)
			clienttest.Run(t, back, false, "diff", "-r", src, filepath.Join(back, "tree"))
			if ups := e.Events(t, hostapi.EventFileUploaded); len(ups) != tc.files || ups[0].Protocol != tc.protocol {
				t.Errorf("%d file.uploaded events (first %+v), want %d over %s", len(ups), ups[0], tc.files, tc.protocol)
			}
		})
	}
}

func TestCommands(t *testing.T) {
	t.Parallel()
	e := clienttest.Start(t, nil)
	e.CreateAccount(t, map[string]any{"Username": "raw"})
	f, err := clienttest.DialFTP("", e.FTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	must := func(want int, format string, args ...any) string {
		t.Helper()
		msg, err := f.Cmd(want, format, args...)
		if err != nil {
			t.Fatalf(format+": %v", append(args, err)...)
		}
		return msg
	}
	store := func(cmd, name string, data []byte) {
		t.Helper()
		dc, err := f.Passive()
		if err != nil {
			t.Fatal(err)
		}
		must(150, "%s %s", cmd, name)
		dc.Write(data)
		dc.Close()
		if _, err := f.ReadReply(226); err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
	}
	retr := func(name string) string {
		t.Helper()
		dc, err := f.Passive()
		if err != nil {
			t.Fatal(err)
		}
		must(150, "RETR %s", name)
		var b bytes.Buffer
		b.ReadFrom(dc)
		dc.Close()
		if _, err := f.ReadReply(226); err != nil {
			t.Fatalf("RETR: %v", err)
		}
		return b.String()
	}
	if err := f.Login("raw", clienttest.Password); err != nil {
		t.Fatal(err)
	}
	if feat := must(211, "FEAT"); !strings.Contains(feat, "MFMT") || !strings.Contains(feat, "EPSV") || !strings.Contains(feat, "REST STREAM") {
		t.Errorf("FEAT = %q", feat)
	}
	must(200, "TYPE I")
	must(257, "MKD %s", "new dir")
	must(250, "CWD %s", "new dir")
	if pwd := must(257, "PWD"); !strings.Contains(pwd, `"/new dir"`) {
		t.Errorf("PWD = %q", pwd)
	}
	store("STOR", "a file.txt", []byte("0123456789"))
	if size := must(213, "SIZE a file.txt"); size != "10" {
		t.Errorf("SIZE = %q", size)
	}
	must(350, "REST 4")
	if got := retr("a file.txt"); got != "456789" {
		t.Errorf("RETR after REST 4 = %q", got)
	}
	must(350, "REST 6")
	store("STOR", "a file.txt", []byte("XY"))
	store("APPE", "a file.txt", []byte("++"))
	if got := retr("a file.txt"); got != "012345XY++" {
		t.Errorf("after REST+STOR and APPE: %q", got)
	}
	must(213, "MFMT 20200102030405 a file.txt")
	if mdtm := must(213, "MDTM a file.txt"); mdtm != "20200102030405" {
		t.Errorf("MDTM = %q", mdtm)
	}
	if mlst := strings.ToLower(must(250, "MLST a file.txt")); !strings.Contains(mlst, "size=10") || !strings.Contains(mlst, "type=file") {
		t.Errorf("MLST = %q", mlst)
	}
	must(350, "RNFR a file.txt")
	must(250, "RNTO /renamed.txt")
	must(250, "CDUP")
	must(550, "RMD /renamed.txt") // a file
	must(550, "DELE new dir")     // a folder
	must(250, "RMD new dir")
	must(250, "DELE renamed.txt")
	must(550, "SIZE renamed.txt")
	must(550, "CWD /missing")
	must(421, "PORT 127,0,0,1,200,10") // active mode is off (ftpserverlib answers 421)
	must(221, "QUIT")
}

func TestRightsAndLogins(t *testing.T) {
	t.Parallel()
	clienttest.Need(t, "curl")
	e := clienttest.Start(t, nil)
	e.CreateAccount(t, map[string]any{"Username": "rw", "Chroot": "/site"})
	e.CreateAccount(t, map[string]any{"Username": "cam", "AccessRights": "W", "Chroot": "/site/cam"})
	e.CreateAccount(t, map[string]any{"Username": "viewer", "AccessRights": "R", "Chroot": "/site"})
	off := e.CreateAccount(t, map[string]any{"Username": "off"})
	e.CreateAccount(t, map[string]any{"Username": "far", "AllowedIPs": []string{"10.0.0.0/8"}})
	if s := e.Do("PUT", fmt.Sprintf("/ftpaccounts/id/%d", off), e.Token(), map[string]any{"Enabled": false}, nil); s != 200 {
		t.Fatalf("disable: %d", s)
	}
	dir := t.TempDir()
	clienttest.WriteFile(t, dir, "pic.jpg", []byte("jpeg"))
	curl := func(fail bool, args ...string) string {
		return clienttest.Run(t, dir, fail, "curl", append([]string{"-sS", "--fail"}, args...)...)
	}
	curl(false, "-T", "pic.jpg", ftpURL(e, "ftp", "cam", "/pic.jpg"))
	if list := curl(false, ftpURL(e, "ftp", "cam", "/")); strings.Contains(list, "pic.jpg") { // curl takes a 450 as empty
		t.Errorf("an upload-only account listed %q", list)
	}
	curl(true, "-o", "x", ftpURL(e, "ftp", "cam", "/pic.jpg"))                  // no reading
	curl(true, "-Q", "DELE pic.jpg", ftpURL(e, "ftp", "cam", "/"), "-l")        // no deleting
	curl(false, "-o", "viewed.jpg", ftpURL(e, "ftp", "viewer", "/cam/pic.jpg")) // R reads
	curl(true, "-T", "pic.jpg", ftpURL(e, "ftp", "viewer", "/new.jpg"))         // R does not write
	if list := curl(false, "-l", ftpURL(e, "ftp", "rw", "/")); strings.TrimSpace(list) != "cam" {
		t.Errorf("rw's root lists %q, want only cam", list)
	}
	// The chroot confines: ".." stops at the account's root.
	if list := curl(false, "-l", ftpURL(e, "ftp", "cam", "/../../")); strings.Contains(list, "cam") {
		t.Errorf("cam escaped its chroot: %q", list)
	}
	for _, user := range []string{"off", "far"} {
		f, err := clienttest.DialFTP("", e.FTPAddr())
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Login(user, clienttest.Password); err == nil {
			t.Errorf("%s logged in", user)
		}
		f.Close()
	}
	if fails := e.Events(t, hostapi.EventLoginFailed); len(fails) != 2 {
		t.Errorf("%d login.failed events, want 2", len(fails))
	}
}

func TestInterruptedUpload(t *testing.T) {
	t.Parallel()
	e := clienttest.Start(t, nil)
	e.CreateAccount(t, map[string]any{"Username": "flaky"})
	for _, cut := range []string{"data connection reset", "control connection reset"} {
		t.Run(cut, func(t *testing.T) {
			f, err := clienttest.DialFTP("", e.FTPAddr())
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Login("flaky", clienttest.Password); err != nil {
				t.Fatal(err)
			}
			dc, err := f.Passive()
			if err != nil {
				t.Fatal(err)
			}
			defer dc.Close()
			if _, err := f.Cmd(150, "STOR partial.bin"); err != nil {
				t.Fatal(err)
			}
			if _, err := dc.Write(clienttest.Content("partial", 1<<20)); err != nil {
				t.Fatal(err)
			}
			if cut == "data connection reset" {
				clienttest.Reset(dc)
			} else {
				f.Reset()
				dc.Read(make([]byte, 1)) // returns once the server has closed the transfer
			}
			e.WaitNoPartial(t)
		})
	}
	if _, err := os.Stat(filepath.Join(e.StorageRoot(), "partial.bin")); !os.IsNotExist(err) {
		t.Errorf("partial upload is visible: %v", err)
	}
	if ups := e.Events(t, hostapi.EventFileUploaded); len(ups) != 0 {
		t.Errorf("file.uploaded recorded for an interrupted upload: %+v", ups)
	}
}

// TestRememberedPasswords logs in again and again, as clients that open a session per
// file do, while the account changes: the password cache (on by default) must follow
// the store at once.
func TestRememberedPasswords(t *testing.T) {
	t.Parallel()
	clienttest.Need(t, "curl")
	e := clienttest.Start(t, nil)
	if e.G.Accounts.Passwords == nil {
		t.Fatal("the default configuration has no password cache")
	}
	id := e.CreateAccount(t, map[string]any{"Username": "cam"})
	list := func(password string, fail bool) {
		t.Helper()
		u := url.URL{Scheme: "ftp", User: url.UserPassword("cam", password), Host: e.FTPAddr(), Path: "/"}
		clienttest.Run(t, "", fail, "curl", "-sS", "--fail", "-l", u.String())
	}
	list(clienttest.Password, false)
	list(clienttest.Password, false) // remembered
	var rotated struct{ Password string }
	if s := e.Do("POST", fmt.Sprintf("/ftpaccounts/id/%d/rotate-password", id), e.Token(), nil, &rotated); s != 200 {
		t.Fatalf("rotate-password: %d", s)
	}
	list(clienttest.Password, true) // the old password stops working at once
	list(rotated.Password, false)
	list(rotated.Password, false)
	if s := e.Do("PUT", fmt.Sprintf("/ftpaccounts/id/%d", id), e.Token(), map[string]any{"Enabled": false}, nil); s != 200 {
		t.Fatalf("disable: %d", s)
	}
	list(rotated.Password, true) // a remembered password does not outlive the account
	if fails := e.Events(t, hostapi.EventLoginFailed); len(fails) != 2 {
		t.Errorf("%d login.failed events, want 2", len(fails))
	}
}
