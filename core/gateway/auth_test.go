package gateway_test

import (
	"bytes"
	"mime/multipart"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/filegate/filegate/core/config"
	"github.com/filegate/filegate/core/internal/clienttest"
	"github.com/filegate/filegate/core/plugin/wasmtest"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// authGuests are the wasm auth plugins of these tests, built once per test binary.
var authGuests struct {
	once                sync.Once
	err                 error
	uploadPolicy, login string
}

func buildAuthGuests(t *testing.T) {
	t.Helper()
	authGuests.once.Do(func() {
		dir, err := os.MkdirTemp("", "filegate-auth-guests-")
		if err != nil {
			authGuests.err = err
			return
		}
		authGuests.uploadPolicy = filepath.Join(dir, "uploadpolicy.wasm")
		authGuests.login = filepath.Join(dir, "loginplugin.wasm")
		for _, err := range []error{
			wasmtest.BuildWASM(authGuests.uploadPolicy, "../../examples/uploadpolicy/plugin"),
			wasmtest.BuildWASM(authGuests.login, "./testdata/loginplugin"),
			wasmtest.Precompile(authGuests.uploadPolicy, authGuests.login),
		} {
			if err != nil {
				authGuests.err = err
				return
			}
		}
	})
	if authGuests.err != nil {
		t.Fatalf("building the auth plugins: %v", authGuests.err)
	}
}

// withAuth configures the [[auth]] entries and points the gateway's compilation cache
// at the one Precompile filled (compiling under -race takes many seconds).
func withAuth(t *testing.T, entries ...config.Auth) func(*config.Config) {
	return func(c *config.Config) {
		for i := range entries {
			if entries[i].OnError == "" {
				entries[i].OnError = config.OnErrorDeny
			}
			if entries[i].Timeout == 0 {
				entries[i].Timeout = config.Duration(config.DefaultAuthTimeout)
			}
		}
		c.Auth = entries
		if err := os.Symlink(wasmtest.CacheDir(), filepath.Join(c.DataPath(), "plugin-cache")); err != nil {
			t.Fatal(err)
		}
	}
}

// ftpStor uploads data to name over raw FTP and returns the final reply's code and text.
func ftpStor(t *testing.T, f *clienttest.FTP, name string, data []byte) string {
	t.Helper()
	dc, err := f.Passive()
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	msg, err := f.Cmd(0, "STOR %s", name)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "Using transfer connection") && !strings.HasPrefix(msg, "Opening") {
		return msg // refused before the transfer
	}
	dc.Write(data)
	dc.Close()
	msg, err = f.ReadReply(0)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// httpUpload posts one multipart file and returns the status and the error message.
func httpUpload(t *testing.T, e *clienttest.Env, name string, data []byte) (int, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("f1", name)
	fw.Write(data)
	mw.Close()
	return e.PostUpload(mw.FormDataContentType(), &body)
}

// TestAuthPluginRefusesUploads runs the uploadpolicy example (only .pdf, at most 1000
// bytes) builtin and as wasm: FTP and HTTP uploads of *.exe are refused with the
// plugin's reason, a .pdf lands, and a .pdf over the limit is refused at commit and
// never becomes visible.
func TestAuthPluginRefusesUploads(t *testing.T) {
	t.Parallel()
	buildAuthGuests(t)
	for _, transport := range []struct{ name, plugin string }{{"builtin", "uploadpolicy"}, {"wasm", authGuests.uploadPolicy}} {
		t.Run(transport.name, func(t *testing.T) {
			t.Parallel()
			e := clienttest.Start(t, withAuth(t, config.Auth{Name: "uploads", Plugin: transport.plugin,
				Config: map[string]any{"extensions": []any{".pdf"}, "max_size": int64(1000)}}))
			e.CreateAccount(t, map[string]any{"Username": "alice"})
			const reason = "uploads of *.exe refused (allowed: .pdf)"

			f, err := clienttest.DialFTP("", e.FTPAddr())
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Login("alice", clienttest.Password); err != nil {
				t.Fatal(err)
			}
			if _, err := f.Cmd(200, "TYPE I"); err != nil {
				t.Fatal(err)
			}
			if msg := ftpStor(t, f, "ftp.exe", []byte("MZ")); !strings.Contains(msg, reason) {
				t.Errorf("FTP STOR ftp.exe: reply %q, want the plugin's reason %q", msg, reason)
			}
			if msg := ftpStor(t, f, "ftp.pdf", []byte("%PDF")); !strings.Contains(msg, "Closing transfer connection") {
				t.Errorf("FTP STOR ftp.pdf: reply %q, want the transfer to complete", msg)
			}

			if status, msg := httpUpload(t, e, "http.exe", []byte("MZ")); status != 403 || msg != reason {
				t.Errorf("HTTP upload of http.exe: %d %q, want 403 %q", status, msg, reason)
			}
			if status, msg := httpUpload(t, e, "http.pdf", []byte("%PDF")); status/100 != 2 {
				t.Errorf("HTTP upload of http.pdf: %d %q", status, msg)
			}
			big := bytes.Repeat([]byte("x"), 2000)
			if status, msg := httpUpload(t, e, "big.pdf", big); status != 403 || !strings.Contains(msg, "upload of 2000 bytes refused") {
				t.Errorf("HTTP upload of a 2000-byte big.pdf: %d %q, want 403 naming the limit", status, msg)
			}

			for name, want := range map[string]bool{"ftp.exe": false, "ftp.pdf": true, "http.exe": false, "http.pdf": true, "big.pdf": false} {
				_, err := os.Stat(filepath.Join(e.StorageRoot(), name))
				if got := err == nil; got != want {
					t.Errorf("%s in the storage: %v, want %v", name, got, want)
				}
			}
			for _, ev := range e.Events(t, hostapi.EventFileUploaded) {
				if !strings.HasSuffix(ev.Path, "ftp.pdf") && !strings.HasSuffix(ev.Path, "http.pdf") {
					t.Errorf("file.uploaded recorded for a refused upload: %s", ev.Path)
				}
			}
		})
	}
}

// TestAuthPluginDecidesLogins runs a wasm auth plugin that denies one user, vouches
// for another with overrides, loops forever on a third and abstains on the rest.
func TestAuthPluginDecidesLogins(t *testing.T) {
	t.Parallel()
	buildAuthGuests(t)
	// The plain login below must get a second wasm instance started and answered
	// within this while the first spins: generous, for a loaded machine under -race.
	const deadline = 2 * time.Second
	e := clienttest.Start(t, withAuth(t, config.Auth{Name: "logins", Plugin: authGuests.login, Timeout: config.Duration(deadline)}))
	for _, u := range []string{"denied", "vouched", "plain"} {
		e.CreateAccount(t, map[string]any{"Username": u})
	}
	ftpLogin := func(user, password string) error {
		f, err := clienttest.DialFTP("", e.FTPAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		return f.Login(user, password)
	}

	t.Run("deny", func(t *testing.T) {
		if err := ftpLogin("denied", clienttest.Password); err == nil {
			t.Error("FTP: the plugin denied denied, but the login succeeded with the right password")
		}
		if _, err := clienttest.DialSSH("", e.SFTPAddr(), "denied", ssh.Password(clienttest.Password), false); err == nil {
			t.Error("SFTP: the plugin denied denied, but the login succeeded with the right password")
		}
		failed := 0
		for _, ev := range e.Events(t, hostapi.EventLoginFailed) {
			if ev.Account == "denied" {
				failed++
			}
		}
		if failed != 2 {
			t.Errorf("%d login.failed events for denied, want 2 (FTP and SFTP)", failed)
		}
	})

	t.Run("allow with overrides", func(t *testing.T) {
		f, err := clienttest.DialFTP("", e.FTPAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Login("vouched", "not the password"); err != nil {
			t.Fatalf("the plugin vouched for vouched, but the login failed: %v", err)
		}
		if fi, err := os.Stat(filepath.Join(e.StorageRoot(), "vouched-jail")); err != nil || !fi.IsDir() {
			t.Errorf("the chroot override was not created: %v", err)
		}
		f.Cmd(200, "TYPE I")
		if msg := ftpStor(t, f, "x.txt", []byte("x")); !strings.Contains(msg, "permission denied") && !strings.Contains(msg, "write right") {
			t.Errorf("STOR with the read-only override: %q, want a refusal", msg)
		}
	})

	t.Run("endless loop", func(t *testing.T) {
		start := time.Now()
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // the gateway keeps serving while the plugin spins
			defer wg.Done()
			if err := ftpLogin("plain", clienttest.Password); err != nil {
				t.Errorf("a login while another spins in the plugin: %v", err)
			}
			if s := e.Do("GET", "/ftpaccounts/list", e.Token(), nil, nil); s != 200 {
				t.Errorf("GET /ftpaccounts/list while the plugin spins: %d", s)
			}
		}()
		if err := ftpLogin("loop", "whatever"); err == nil {
			t.Error("the plugin never answered, but the login succeeded")
		}
		if took := time.Since(start); took > deadline+5*time.Second {
			t.Errorf("the refused login took %v, want about the %v deadline", took, deadline)
		}
		wg.Wait()
		if err := ftpLogin("plain", clienttest.Password); err != nil {
			t.Errorf("a login after the instance was replaced: %v", err)
		}
	})
}
