package gateway_test

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/filegate/filegate/core/config"
	"github.com/filegate/filegate/core/internal/clienttest"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// leg moves files over one protocol: curl for FTP and FTPS, pkg/sftp for SFTP,
// the REST API for HTTP.
type leg struct {
	protocol string
	put      func(t *testing.T, name string, data []byte)
	get      func(t *testing.T, name string) []byte
}

func legs(t *testing.T, e *clienttest.Env) []leg {
	dir := t.TempDir()
	curl := func(tls bool) leg {
		protocol, flags := "ftp", []string{"-sS", "--fail"}
		if tls {
			protocol, flags = "ftps", append(flags, "--ssl-reqd", "-k")
		}
		u := func(name string) string {
			return (&url.URL{Scheme: "ftp", User: url.UserPassword("matrix", clienttest.Password), Host: e.FTPAddr(), Path: "/" + name}).String()
		}
		return leg{
			protocol: protocol,
			put: func(t *testing.T, name string, data []byte) {
				local := clienttest.WriteFile(t, dir, protocol+"-up", data)
				clienttest.Run(t, dir, false, "curl", append(flags, "-T", local, u(name))...)
			},
			get: func(t *testing.T, name string) []byte {
				local := filepath.Join(dir, protocol+"-down")
				clienttest.Run(t, dir, false, "curl", append(flags, "-o", local, u(name))...)
				b, _ := os.ReadFile(local)
				return b
			},
		}
	}
	sc, err := clienttest.DialSSH("", e.SFTPAddr(), "matrix", ssh.Password(clienttest.Password), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })
	return []leg{curl(false), curl(true), {
		protocol: "sftp",
		put: func(t *testing.T, name string, data []byte) {
			f, err := sc.SFTP.Create("/" + name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.ReadFrom(bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		},
		get: func(t *testing.T, name string) []byte {
			f, err := sc.SFTP.Open("/" + name)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var b bytes.Buffer
			if _, err := f.WriteTo(&b); err != nil {
				t.Fatal(err)
			}
			return b.Bytes()
		},
	}, {
		protocol: "http",
		put: func(t *testing.T, name string, data []byte) {
			if status, msg := httpUpload(t, e, name, data); status/100 != 2 {
				t.Fatalf("POST /api/upload: %d %s", status, msg)
			}
		},
		get: func(t *testing.T, name string) []byte {
			resp := e.Request("GET", "/api/download/single?path="+url.QueryEscape("/"+name), e.Token(), nil)
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 {
				t.Fatalf("GET /api/download/single: %s %s", resp.Status, b)
			}
			return b
		},
	}}
}

// TestCrossProtocol writes a file with each of FTP, FTPS, SFTP and HTTP and reads it
// back byte for byte with each of the others.
func TestCrossProtocol(t *testing.T) {
	t.Parallel()
	clienttest.Need(t, "curl")
	e := clienttest.Start(t, func(c *config.Config) { c.FTP.TLS = "explicit" })
	e.CreateAccount(t, map[string]any{"Username": "matrix"})
	all := legs(t, e)
	for i, w := range all {
		name := fmt.Sprintf("from %s ✓.bin", w.protocol)
		data := clienttest.Content(name, 256<<10+i)
		w.put(t, name, data)
		for _, r := range all {
			if got := r.get(t, name); !bytes.Equal(got, data) {
				t.Errorf("%s read %d bytes of the %d %s wrote, differing", r.protocol, len(got), len(data), w.protocol)
			}
		}
	}
	seen := map[string]int{}
	for _, ev := range e.Events(t, hostapi.EventFileUploaded) {
		seen[ev.Protocol+" "+ev.Path]++
	}
	for _, w := range all {
		if key := fmt.Sprintf("%s /from %s ✓.bin", w.protocol, w.protocol); seen[key] != 1 {
			t.Errorf("file.uploaded %q recorded %d times, want once (all: %v)", key, seen[key], seen)
		}
	}
	if len(seen) != len(all) {
		t.Errorf("file.uploaded events: %v", seen)
	}
}

// TestBruteForce bans an address after failed FTP logins on every protocol, while a
// correct login from another loopback address still works.
func TestBruteForce(t *testing.T) {
	t.Parallel()
	clienttest.Need(t, "curl")
	e := clienttest.Start(t, func(c *config.Config) { c.Security.BanThreshold = 3 })
	e.CreateAccount(t, map[string]any{"Username": "victim"})
	for range 3 {
		f, err := clienttest.DialFTP("127.0.0.1", e.FTPAddr())
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Login("victim", "wrong"); err == nil {
			t.Fatal("a wrong password logged in")
		}
		f.Close()
	}
	if f, err := clienttest.DialFTP("127.0.0.1", e.FTPAddr()); err == nil {
		err = f.Login("victim", clienttest.Password)
		f.Close()
		if err == nil {
			t.Error("FTP: the banned address logged in")
		}
	}
	if c, err := clienttest.DialSSH("127.0.0.1", e.SFTPAddr(), "victim", ssh.Password(clienttest.Password), false); err == nil {
		c.Close()
		t.Error("SFTP: the banned address logged in")
	}
	resp := e.Request("POST", "/apiaccess/auth", "", map[string]string{"AssociationKey": e.AssociationKey, "AccessKey": e.AccessKey, "SecretKey": e.SecretKey})
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("POST /apiaccess/auth from the banned address: %s (Retry-After %q), want 429", resp.Status, resp.Header.Get("Retry-After"))
	}

	dir := t.TempDir()
	u := (&url.URL{Scheme: "ftp", User: url.UserPassword("victim", clienttest.Password), Host: e.FTPAddr(), Path: "/"}).String()
	clienttest.Run(t, dir, false, "curl", "-sS", "--fail", "--interface", "127.0.0.2", u)
	c, err := clienttest.DialSSH("127.0.0.2", e.SFTPAddr(), "victim", ssh.Password(clienttest.Password), true)
	if err != nil {
		t.Fatalf("SFTP from 127.0.0.2: %v", err)
	}
	c.Close()
	if fails := e.Events(t, hostapi.EventLoginFailed); len(fails) != 3 {
		t.Errorf("%d login.failed events, want 3", len(fails))
	}
	if bans := e.Events(t, hostapi.EventLoginBanned); len(bans) != 1 || bans[0].RemoteAddr != "127.0.0.1" {
		t.Errorf("login.banned events: %+v, want one for 127.0.0.1", bans)
	}
}
