package clienttest

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// SSH is an SSH client connection with an SFTP session.
type SSH struct {
	Conn   net.Conn // the TCP connection, to break it on purpose
	Client *ssh.Client
	SFTP   *sftp.Client
}

// DialSSH logs user in on addr from the local IP from ("" for any) and, when sftp,
// starts the sftp subsystem.
func DialSSH(from, addr, user string, auth ssh.AuthMethod, withSFTP bool) (*SSH, error) {
	nc, err := DialFrom(from, addr)
	if err != nil {
		return nil, err
	}
	cfg := &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{auth}, HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: Timeout}
	c, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("ssh login of %s: %w", user, err)
	}
	s := &SSH{Conn: nc, Client: ssh.NewClient(c, chans, reqs)}
	if withSFTP {
		if s.SFTP, err = sftp.NewClient(s.Client); err != nil {
			s.Client.Close()
			return nil, fmt.Errorf("sftp subsystem: %w", err)
		}
	}
	return s, nil
}

// Close ends the session.
func (s *SSH) Close() error {
	if s.SFTP != nil {
		s.SFTP.Close()
	}
	return s.Client.Close()
}

// SFTPBatch runs OpenSSH sftp as user from dir with the commands as a batch file, and
// returns its output; every command must succeed. auth holds the client's
// authentication arguments (e.g. "-i", keyFile), or "-p", password to log in with a
// password through sshpass.
func (e *Env) SFTPBatch(t testing.TB, dir, user string, auth []string, commands ...string) string {
	t.Helper()
	script := WriteFile(t, dir, "batch.txt", []byte(strings.Join(commands, "\n")+"\n"))
	args := append(append(slices.Clone(auth), e.SSHOptions()...), "-b", script, user+"@127.0.0.1")
	name := "sftp"
	if auth[0] == "-p" { // sshpass -p PW sftp ...
		name, args = "sshpass", append([]string{"-p", auth[1], "sftp", "-o", "BatchMode=no"}, args[2:]...)
	}
	return Run(t, dir, false, name, args...)
}
