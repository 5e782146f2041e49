package sftpd

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/filegate/filegate/core/internal/cputime"

	"golang.org/x/crypto/ssh"

	"github.com/filegate/filegate/core/accounts"
	"github.com/filegate/filegate/core/vfs"
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/local"
)

// benchAccounts lets anyone in with any key, onto one local storage.
type benchAccounts struct{ fs *vfs.FS }

func (benchAccounts) Banned(net.Addr) bool { return false }
func (benchAccounts) AcceptsKey(context.Context, net.Addr, string, ssh.PublicKey) error {
	return nil
}
func (a benchAccounts) Login(context.Context, string, net.Addr, string, accounts.Credential, bool) (*vfs.FS, error) {
	return a.fs, nil
}

// knownSums is a journal that records nothing and knows the SHA-256 of the files it
// was given, as the metadata tree does after a reindex (so vfs does not hash their
// downloads, as with bench/run).
type knownSums map[string]os.FileInfo

func (knownSums) Record(context.Context, int64, hostapi.Event) error { return nil }

func (k knownSums) FileSum(_ context.Context, _ int64, p string) (int64, time.Time, string, error) {
	fi, ok := k[p]
	if !ok {
		return 0, time.Time{}, "", nil
	}
	return fi.Size(), fi.ModTime(), strings.Repeat("0", 64), nil
}

// transferVariant is a server configuration BenchmarkOpenSSHTransfer compares.
type transferVariant struct {
	name         string
	allocPackets bool // Server.allocPackets
	writeEach    bool // Server.writeEach
	lingerBatch  int  // Server.lingerBatch
	gcPercent    int  // debug.SetGCPercent during the run; 0 leaves the default
	memLimit     int64
}

// transferVariants are the configurations compared, baseline first; pick some with
// -bench (e.g. 'OpenSSHTransfer/.*/.*/(each|cork)$').
var transferVariants = []transferVariant{
	{name: "alloc", allocPackets: true, writeEach: true}, // pkg/sftp's defaults
	{name: "each", writeEach: true},                      // packet allocator, a write per packet
	{name: "cork-alloc", allocPackets: true},             // corkConn, a new buffer per packet
	{name: "cork16k", lingerBatch: sendAtOnce},           // corkConn, READ data replies sent one by one
	{name: "cork"}, // the default: packet allocator, corkConn
	{name: "cork-gc400", gcPercent: 400},
	{name: "cork-gcoff-limit256", gcPercent: -1, memLimit: 256 << 20},
}

// BenchmarkOpenSSHTransfer moves a 64 MiB file with OpenSSH's sftp (a separate
// process: this process's CPU time is the server's alone) up and down, with each
// cipher and each of transferVariants. It reports MB/s and the server's CPU seconds
// per GiB. Downloads take the SHA-256 from the journal, as after a reindex.
func BenchmarkOpenSSHTransfer(b *testing.B) {
	for _, p := range []string{"sftp", "ssh-keygen"} {
		if _, err := exec.LookPath(p); err != nil {
			b.Skipf("%s is not installed (Debian: openssh-client)", p)
		}
	}
	const size = 64 << 20
	dir := b.TempDir()
	store, err := local.New(filepath.Join(dir, "storage"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	data := make([]byte, size)
	rand.Read(data)
	down := filepath.Join(dir, "storage", "down.bin")
	if err := os.WriteFile(down, data, 0o644); err != nil {
		b.Fatal(err)
	}
	src := filepath.Join(dir, "src.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		b.Fatal(err)
	}
	data = nil // a live 64 MiB would make the collector run far less often than in a server
	runtime.GC()
	fi, err := os.Stat(down)
	if err != nil {
		b.Fatal(err)
	}
	fsys := vfs.New(store, knownSums{"/down.bin": fi}, vfs.Session{TenantRoot: "/", Chroot: "/", Protocol: Protocol,
		Rights: vfs.Rights{Read: true, List: true, Write: true, Delete: true, Rename: true}})
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := New([]ssh.Signer{signer}, benchAccounts{fsys}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	counted := &countingListener{Listener: ln}
	go func() { defer close(done); srv.Serve(ctx, counted) }()
	defer func() { cancel(); <-done }()

	key := filepath.Join(dir, "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		b.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	sftpRun := func(b *testing.B, cipher, command string) {
		cmd := exec.Command("sftp", "-F", "/dev/null", "-q", "-b", "-", "-i", key, "-o", "IdentitiesOnly=yes",
			"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
			"-c", cipher, "-P", port, "bench@127.0.0.1")
		cmd.Stdin = strings.NewReader(command + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("sftp %s: %v\n%s", command, err, out)
		}
	}
	for _, cipher := range []string{"aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com"} {
		for _, dirn := range []string{"up", "down"} {
			command := "put " + src + " up.bin"
			if dirn == "down" {
				command = "get down.bin " + filepath.Join(dir, "got.bin")
			}
			for _, v := range transferVariants {
				b.Run(cipher[:6]+"/"+dirn+"/"+v.name, func(b *testing.B) {
					srv.allocPackets, srv.writeEach, srv.lingerBatch = v.allocPackets, v.writeEach, v.lingerBatch
					if v.gcPercent != 0 {
						defer debug.SetGCPercent(debug.SetGCPercent(v.gcPercent))
					}
					if v.memLimit != 0 {
						defer debug.SetMemoryLimit(debug.SetMemoryLimit(v.memLimit))
					}
					b.SetBytes(size)
					var cpu time.Duration
					counted.reset()
					for b.Loop() {
						c0 := cputime.Process()
						sftpRun(b, cipher, command)
						cpu += cputime.Process() - c0
					}
					b.ReportMetric(cpu.Seconds()/float64(b.N)/(float64(size)/(1<<30)), "server-cpu-s/GiB")
					mib := float64(b.N) * size / (1 << 20)
					b.ReportMetric(float64(counted.reads.Load())/mib, "reads/MiB")
					b.ReportMetric(float64(counted.writes.Load())/mib, "writes/MiB")
				})
			}
		}
	}
}

// countingListener counts the socket reads and writes of the connections it accepts:
// the system calls the server makes on them.
type countingListener struct {
	net.Listener
	reads, writes atomic.Int64
}

func (l *countingListener) reset() { l.reads.Store(0); l.writes.Store(0) }

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, l: l}, nil
}

type countingConn struct {
	net.Conn
	l *countingListener
}

func (c *countingConn) Read(p []byte) (int, error) {
	c.l.reads.Add(1)
	return c.Conn.Read(p)
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.l.writes.Add(1)
	return c.Conn.Write(p)
}
