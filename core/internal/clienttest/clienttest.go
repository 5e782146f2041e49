// Package clienttest helps the FTP and SFTP front ends' tests: it starts a gateway
// with both listeners on 127.0.0.1, creates accounts through the REST API, runs real
// client programs, and speaks just enough raw FTP and SFTP to break a transfer on
// purpose.
package clienttest

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/filegate/filegate/core/config"
	"github.com/filegate/filegate/core/gateway/gatewaytest"
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/local"
)

// Timeout bounds every client program and every wait.
const Timeout = 180 * time.Second

// Password is the password of the accounts tests create unless told otherwise.
const Password = "Correct-Horse-42"

// Env is a running gateway with FTP and SFTP listeners.
type Env struct {
	*gatewaytest.Env
	FTPPort, SFTPPort int
}

// Start runs a gateway with FTP (plain, unless adjust says otherwise) and SFTP on free
// 127.0.0.1 ports; adjust may change anything after that.
func Start(t testing.TB, adjust func(*config.Config)) *Env {
	t.Helper()
	return StartWith(t, "", adjust)
}

// StartWith is Start with gateway.toml holding text, for instance a [[storage]] table
// named "default" that puts the primary storage elsewhere than on local disk.
func StartWith(t testing.TB, text string, adjust func(*config.Config)) *Env {
	t.Helper()
	// Port 0: the gateway binds a free port itself and reports it (Gateway.Addr). A
	// port picked free beforehand could be taken by a parallel test before the
	// gateway binds it ("address already in use", seen in CI).
	env := gatewaytest.Start(t, text, func(c *config.Config) {
		c.FTP.Listen = "127.0.0.1:0"
		c.SFTP.Listen = "127.0.0.1:0"
		c.FTP.PassivePorts = "50000-50999"
		if adjust != nil {
			adjust(c)
		}
	})
	return &Env{Env: env, FTPPort: boundPort(env, "ftp"), SFTPPort: boundPort(env, "sftp")}
}

// boundPort is the port the gateway's listener name is bound to, 0 when it is off.
func boundPort(env *gatewaytest.Env, name string) int {
	if a, ok := env.G.Addr(name).(*net.TCPAddr); ok {
		return a.Port
	}
	return 0
}

// FTPAddr is the FTP listener's host:port.
func (e *Env) FTPAddr() string { return "127.0.0.1:" + strconv.Itoa(e.FTPPort) }

// SFTPAddr is the SFTP listener's host:port.
func (e *Env) SFTPAddr() string { return "127.0.0.1:" + strconv.Itoa(e.SFTPPort) }

// CreateAccount creates an FTP account from API fields (Username, Password,
// AccessRights, Chroot, SSHPublicKeys, AllowedIPs...) and returns its Id. Password
// defaults to Password and AccessRights to "RW".
func (e *Env) CreateAccount(t testing.TB, fields map[string]any) int64 {
	t.Helper()
	body := map[string]any{"Password": Password, "AccessRights": "RW"}
	for k, v := range fields {
		body[k] = v
	}
	var out struct{ Id int64 }
	if s := e.Do("POST", "/ftpaccounts/create", e.Token(), body, &out); s != 201 {
		t.Fatalf("create FTP account %v: status %d", fields["Username"], s)
	}
	return out.Id
}

// Events returns the events of type typ (all types when ""), newest first.
func (e *Env) Events(t testing.TB, typ string) []hostapi.Event {
	t.Helper()
	var out struct{ Data []hostapi.Event }
	q := url.Values{"limit": {"1000"}}
	if typ != "" {
		q.Set("type", typ)
	}
	if s := e.Do("GET", "/events?"+q.Encode(), e.Token(), nil, &out); s != 200 {
		t.Fatalf("GET /events: status %d", s)
	}
	return out.Data
}

// StorageRoot is the directory of the default local backend.
func (e *Env) StorageRoot() string { return filepath.Join(e.G.Config.DataPath(), "storage") }

// WaitNoPartial waits until no unfinished upload is left in the storage: an aborted
// upload's temporary file is gone.
func (e *Env) WaitNoPartial(t testing.TB) {
	t.Helper()
	Eventually(t, "unfinished uploads to disappear", func() bool {
		found := false
		filepath.WalkDir(e.StorageRoot(), func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasPrefix(d.Name(), local.TempPrefix) {
				found = true
			}
			return nil
		})
		return !found
	})
}

// Eventually polls cond until it holds, failing the test after Timeout.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for delay := time.Millisecond; !cond(); delay = min(2*delay, 100*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(delay)
	}
}

// Need skips the test unless every program is installed.
func Need(t testing.TB, programs ...string) {
	t.Helper()
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s is not installed (Debian: apt-get install -y lftp sshpass openssh-client curl)", p)
		}
	}
}

// Run runs a program in dir, returning its combined output; it fails the test when the
// program fails and mustFail is false, or succeeds and mustFail is true.
func Run(t testing.TB, dir string, mustFail bool, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	switch {
	case err != nil && !mustFail:
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	case err == nil && mustFail:
		t.Fatalf("%s %s succeeded, want a failure\n%s", name, strings.Join(args, " "), out)
	}
	return string(out)
}

// SSHKey generates an Ed25519 key pair in dir with ssh-keygen and returns the private
// key file and the public key line.
func SSHKey(t testing.TB, dir string) (private, public string) {
	t.Helper()
	private = filepath.Join(dir, "id_ed25519")
	Run(t, dir, false, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", private)
	pub, err := os.ReadFile(private + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return private, strings.TrimSpace(string(pub))
}

// SSHOptions are the OpenSSH client options for the test server: no host key
// checks, non-interactive.
func (e *Env) SSHOptions() []string {
	return []string{
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", "-o", "ConnectTimeout=30", "-P", strconv.Itoa(e.SFTPPort),
	}
}

// WriteFile writes data to dir/name, creating folders.
func WriteFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Content returns n reproducible bytes that differ with seed.
func Content(seed string, n int) []byte {
	b := make([]byte, n)
	x := uint32(2166136261)
	for _, c := range []byte(seed) {
		x = (x ^ uint32(c)) * 16777619
	}
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// DialFrom dials addr over TCP from the local IP from ("" for any).
func DialFrom(from, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: Timeout}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s from %q: %w", addr, from, err)
	}
	return c, nil
}
