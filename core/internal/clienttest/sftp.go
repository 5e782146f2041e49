package clienttest

import (
	"fmt"
	"net"

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
