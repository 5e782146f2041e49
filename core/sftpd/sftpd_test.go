package sftpd_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/filegate/filegate/core/config"
	"github.com/filegate/filegate/core/internal/clienttest"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// startKeyAccount starts a gateway and creates account with a new SSH key, whose files
// are in dir; key is the private key's path.
func startKeyAccount(t *testing.T, account map[string]any) (e *clienttest.Env, dir, key string) {
	e = clienttest.Start(t, nil)
	dir = t.TempDir()
	key, pub := clienttest.SSHKey(t, dir)
	account["SSHPublicKeys"] = []string{pub}
	e.CreateAccount(t, account)
	return e, dir, key
}

func TestOpenSSHClient(t *testing.T) {
	t.Parallel()
	clienttest.Need(t, "sftp", "ssh-keygen", "sshpass")
	e, _, key := startKeyAccount(t, map[string]any{"Username": "erp"})

	for _, tc := range []struct {
		name string
		auth []string
	}{
		{"key", []string{"-i", key, "-o", "PasswordAuthentication=no"}},
		{"password", []string{"-p", clienttest.Password}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			work := t.TempDir()
			data := clienttest.Content(tc.name, 300<<10)
			clienttest.WriteFile(t, work, "local file.bin", data)
			old := time.Date(2020, 2, 3, 4, 5, 6, 0, time.UTC)
			os.Chtimes(filepath.Join(work, "local file.bin"), old, old)
			remote := "dir " + tc.name + "/Ünïcode ñame ✓.bin"
			out := e.SFTPBatch(t, work, "erp", tc.auth,
				`mkdir "dir `+tc.name+`"`,
				`put -p "local file.bin" "`+remote+`"`,
				`rename "`+remote+`" "`+remote+`.renamed"`,
				`ls -l "dir `+tc.name+`"`,
				`get "`+remote+`.renamed" "back.bin"`,
				`df -h /`,
			)
			if !strings.Contains(out, "Ünïcode ñame ✓.bin.renamed") {
				t.Errorf("ls does not show the renamed file:\n%s", out)
			}
			if got, _ := os.ReadFile(filepath.Join(work, "back.bin")); !bytes.Equal(got, data) {
				t.Errorf("downloaded %d bytes differ from the %d uploaded", len(got), len(data))
			}
			fi, err := os.Stat(filepath.Join(e.StorageRoot(), remote+".renamed"))
			if err != nil || !fi.ModTime().Equal(old) {
				t.Errorf("stored file: %v, mtime %v; want mtime %v (put -p)", err, fi, old)
			}
			e.SFTPBatch(t, work, "erp", tc.auth, `rm "`+remote+`.renamed"`, `rmdir "dir `+tc.name+`"`)
			if _, err := os.Stat(filepath.Join(e.StorageRoot(), "dir "+tc.name)); !os.IsNotExist(err) {
				t.Errorf("folder still there after rmdir: %v", err)
			}
		})
	}
	ups := e.Events(t, hostapi.EventFileUploaded)
	if len(ups) != 2 || ups[0].Protocol != "sftp" || ups[0].Account != "erp" || ups[0].Size != 300<<10 {
		t.Errorf("file.uploaded events = %+v, want 2 by erp over sftp", ups)
	}
}

// TestOpenSSHCiphers moves a file each way with OpenSSH's sftp for every cipher it
// offers that the server accepts, in sizes that end inside a ChaCha20 block, so a
// keystream (the SIMD ChaCha20 of third_party/golang.org/x/crypto included) that
// differs from the client's fails the MAC or the bytes.
func TestOpenSSHCiphers(t *testing.T) {
	t.Parallel()
	clienttest.Need(t, "sftp", "ssh-keygen")
	e, _, key := startKeyAccount(t, map[string]any{"Username": "ciphers"})
	for _, cipher := range []string{"chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr"} {
		t.Run(cipher, func(t *testing.T) {
			work := t.TempDir()
			data := clienttest.Content(cipher, 1<<20+37)
			clienttest.WriteFile(t, work, "up.bin", data)
			remote := strings.ReplaceAll(cipher, "@", "_") + ".bin"
			auth := []string{"-i", key, "-o", "PasswordAuthentication=no", "-c", cipher}
			e.SFTPBatch(t, work, "ciphers", auth, "put up.bin "+remote, "get "+remote+" back.bin")
			if got, _ := os.ReadFile(filepath.Join(e.StorageRoot(), remote)); !bytes.Equal(got, data) {
				t.Errorf("stored %d bytes differ from the %d uploaded", len(got), len(data))
			}
			if got, _ := os.ReadFile(filepath.Join(work, "back.bin")); !bytes.Equal(got, data) {
				t.Errorf("downloaded %d bytes differ from the %d uploaded", len(got), len(data))
			}
		})
	}
}

func TestSCP(t *testing.T) {
	t.Parallel()
	clienttest.Need(t, "scp", "ssh-keygen")
	e, dir, key := startKeyAccount(t, map[string]any{"Username": "scp-user", "Chroot": "/scp"})
	data := clienttest.Content("scp", 1<<20+17)
	clienttest.WriteFile(t, dir, "up load.bin", data)
	args := append([]string{"-i", key, "-o", "PasswordAuthentication=no"}, e.SSHOptions()...)
	clienttest.Run(t, dir, false, "scp", append(args, "up load.bin", "scp-user@127.0.0.1:/café.bin")...)
	if got, _ := os.ReadFile(filepath.Join(e.StorageRoot(), "scp", "café.bin")); !bytes.Equal(got, data) {
		t.Fatalf("stored file differs (%d bytes)", len(got))
	}
	clienttest.Run(t, dir, false, "scp", append(args, "scp-user@127.0.0.1:/café.bin", "down.bin")...)
	if got, _ := os.ReadFile(filepath.Join(dir, "down.bin")); !bytes.Equal(got, data) {
		t.Fatalf("downloaded file differs (%d bytes)", len(got))
	}
	// The chroot confines: "/" is /scp, and ".." does not leave it.
	clienttest.Run(t, dir, true, "scp", append(args, "scp-user@127.0.0.1:/../scp/café.bin", "escape.bin")...)
}

func TestOnlySFTPSubsystem(t *testing.T) {
	t.Parallel()
	e := clienttest.Start(t, nil)
	e.CreateAccount(t, map[string]any{"Username": "u"})
	c, err := clienttest.DialSSH("", e.SFTPAddr(), "u", ssh.Password(clienttest.Password), false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for name, try := range map[string]func(*ssh.Session) error{
		"shell":     func(s *ssh.Session) error { return s.Shell() },
		"exec":      func(s *ssh.Session) error { return s.Start("id") },
		"env":       func(s *ssh.Session) error { return s.Setenv("LANG", "C") },
		"pty":       func(s *ssh.Session) error { return s.RequestPty("xterm", 24, 80, ssh.TerminalModes{}) },
		"subsystem": func(s *ssh.Session) error { return s.RequestSubsystem("netconf") },
	} {
		s, err := c.Client.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if err := try(s); err == nil {
			t.Errorf("%s was accepted", name)
		}
		s.Close()
	}
	if conn, err := c.Client.Dial("tcp", e.FTPAddr()); err == nil {
		conn.Close()
		t.Error("direct-tcpip forwarding was accepted")
	}
	if ln, err := c.Client.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
		t.Error("remote port forwarding was accepted")
	}
}

func TestGoClientOperations(t *testing.T) {
	t.Parallel()
	e := clienttest.Start(t, nil)
	e.CreateAccount(t, map[string]any{"Username": "go"})
	c, err := clienttest.DialSSH("", e.SFTPAddr(), "go", ssh.Password(clienttest.Password), true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fc := c.SFTP

	data := clienttest.Content("go", 3<<20)
	f, err := fc.Create("/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadFrom(bytes.NewReader(data)); err != nil { // concurrent, out-of-order writes
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	f, err = fc.Open("/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := f.WriteTo(&got); err != nil { // concurrent reads
		t.Fatal(err)
	}
	part := make([]byte, 1000)
	if _, err := f.ReadAt(part, 2<<20); err != nil || !bytes.Equal(part, data[2<<20:2<<20+1000]) {
		t.Errorf("ReadAt after the end of a sequential read: %v", err)
	}
	f.Close()
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("read back %d bytes, differing", got.Len())
	}

	// Resume: open without truncation and write at the end.
	f, err = fc.OpenFile("/big.bin", os.O_WRONLY)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("tail"), int64(len(data)))
	f.Close()
	if fi, err := fc.Stat("/big.bin"); err != nil || fi.Size() != int64(len(data))+4 {
		t.Errorf("after resume: %v, %v", fi, err)
	}
	if err := fc.Truncate("/big.bin", 10); err != nil {
		t.Errorf("truncate: %v", err)
	}
	if fi, err := fc.Stat("/big.bin"); err != nil || fi.Size() != 10 {
		t.Errorf("after truncate: %v, %v", fi, err)
	}
	mtime := time.Date(2019, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := fc.Chtimes("/big.bin", mtime, mtime); err != nil {
		t.Errorf("chtimes: %v", err)
	}
	if fi, _ := fc.Stat("/big.bin"); fi == nil || !fi.ModTime().Equal(mtime) {
		t.Errorf("mtime after setstat = %v", fi)
	}

	fc.Mkdir("/d")
	w, _ := fc.Create("/d/x")
	w.Write([]byte("x"))
	w.Close()
	if err := fc.Rename("/big.bin", "/d/x"); err == nil {
		t.Error("rename over an existing file succeeded (SFTP v3 rename must not replace)")
	}
	if err := fc.PosixRename("/big.bin", "/d/x"); err != nil {
		t.Errorf("posix-rename: %v", err)
	}
	if err := fc.Remove("/d"); err == nil {
		t.Error("remove of a folder succeeded")
	}
	if err := fc.RemoveDirectory("/d"); err == nil {
		t.Error("rmdir of a non-empty folder succeeded")
	}
	if _, err := fc.Stat("/missing"); !os.IsNotExist(err) {
		t.Errorf("stat of a missing file: %v, want not-exist", err)
	}
	if p, err := fc.RealPath("/d/../../.."); err != nil || p != "/" {
		t.Errorf("realpath above the root = %q, %v", p, err)
	}
	if vfs, err := fc.StatVFS("/"); err != nil || vfs.FreeSpace() == 0 {
		t.Errorf("statvfs = %+v, %v", vfs, err)
	}
	if err := fc.Symlink("/d/x", "/link"); err == nil {
		t.Error("symlink succeeded")
	}
	entries, err := fc.ReadDir("/d")
	if err != nil || len(entries) != 1 || entries[0].Name() != "x" || entries[0].Size() != 10 {
		t.Errorf("readdir = %v, %v", entries, err)
	}
}

func TestInterruptedUpload(t *testing.T) {
	t.Parallel()
	e := clienttest.Start(t, nil)
	e.CreateAccount(t, map[string]any{"Username": "flaky"})
	c, err := clienttest.DialSSH("", e.SFTPAddr(), "flaky", ssh.Password(clienttest.Password), true)
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.SFTP.Create("/partial.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(clienttest.Content("partial", 1<<20)); err != nil {
		t.Fatal(err)
	}
	clienttest.Reset(c.Conn) // the client dies with the file open
	c.Close()
	e.WaitNoPartial(t)
	if _, err := os.Stat(filepath.Join(e.StorageRoot(), "partial.bin")); !os.IsNotExist(err) {
		t.Errorf("partial upload is visible: %v", err)
	}
	if ups := e.Events(t, hostapi.EventFileUploaded); len(ups) != 0 {
		t.Errorf("file.uploaded recorded for an interrupted upload: %+v", ups)
	}
}

func TestKeysOfferedDoNotBan(t *testing.T) {
	t.Parallel()
	e := clienttest.Start(t, func(c *config.Config) { c.Security.BanThreshold = 2 })
	var signers []ssh.Signer
	for range 4 {
		dir := t.TempDir()
		key, _ := clienttest.SSHKey(t, dir)
		b, _ := os.ReadFile(key)
		s, err := ssh.ParsePrivateKey(b)
		if err != nil {
			t.Fatal(err)
		}
		signers = append(signers, s)
	}
	good := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signers[3].PublicKey())))
	e.CreateAccount(t, map[string]any{"Username": "keys", "SSHPublicKeys": []string{good}})
	for i := range 3 { // 9 refused keys, well past the threshold of 2 failures
		c, err := clienttest.DialSSH("", e.SFTPAddr(), "keys", ssh.PublicKeys(signers...), true)
		if err != nil {
			t.Fatalf("login %d with the right key offered last: %v", i, err)
		}
		c.Close()
	}
}
