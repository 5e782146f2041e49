// Package sftpd is Filegate's SFTP front end: an SSH server (golang.org/x/crypto/ssh)
// that offers only the "sftp" subsystem, served by pkg/sftp's RequestServer over the
// account's vfs view. Events carry protocol "sftp".
//
// Authentication is by password or public key, both checked through Accounts.
// Only password failures count toward a ban: an SSH client offers each of its keys
// in turn and a refused key is a question, not a guess, so a user with many keys is
// never banned for them (the SSH layer still limits attempts per connection).
package sftpd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/filegate/filegate/core/accounts"
	"github.com/filegate/filegate/core/internal/conntrack"
	"github.com/filegate/filegate/core/vfs"
)

// Protocol is the protocol SFTP sessions record in events.
const Protocol = "sftp"

// handshakeTimeout bounds the SSH handshake and authentication of a connection.
const handshakeTimeout = 30 * time.Second

// extPublicKey is the ssh.Permissions extension carrying the accepted public key.
const extPublicKey = "filegate-public-key"

// Accounts checks logins.
type Accounts interface {
	// Banned reports whether remote may not log in now.
	Banned(remote net.Addr) bool
	// AcceptsKey reports, with a nil error, whether key may log username in from
	// remote. It records nothing: the client has not proved it holds the key yet.
	AcceptsKey(ctx context.Context, remote net.Addr, username string, key ssh.PublicKey) error
	// Login checks a login on protocol, records it (counting a failure toward a ban
	// when countFailure) and returns the account's filesystem.
	Login(ctx context.Context, protocol string, remote net.Addr, username string, cred accounts.Credential, countFailure bool) (*vfs.FS, error)
}

// Server is the SFTP front end.
type Server struct {
	hostKeys     []ssh.Signer
	accounts     Accounts
	log          *slog.Logger
	allocPackets bool // allocate each packet instead of pkg/sftp's allocator (see serveSFTP; benchmark baseline)
	writeEach    bool // send each of x/crypto's writes at once, without corkConn (benchmark baseline)
	lingerBatch  int  // corkConn.batch when not 0 (benchmark variants)
}

// New returns a server presenting hostKeys.
func New(hostKeys []ssh.Signer, accts Accounts, log *slog.Logger) (*Server, error) {
	if len(hostKeys) == 0 {
		return nil, errors.New("sftp: no host key")
	}
	return &Server{hostKeys: hostKeys, accounts: accts, log: log}, nil
}

// LoadHostKeys reads unencrypted private keys (PEM, OpenSSH or PKCS#8 format).
func LoadHostKeys(paths ...string) ([]ssh.Signer, error) {
	signers := make([]ssh.Signer, 0, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("sftp: host key: %w", err)
		}
		k, err := ssh.ParsePrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("sftp: host key %s: %w", p, err)
		}
		signers = append(signers, k)
	}
	return signers, nil
}

// Serve accepts SSH clients on ln until ctx ends, then closes ln and every
// connection, and returns once every session has finished.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	tracked := conntrack.New(ln)
	stop := context.AfterFunc(ctx, tracked.CloseAll)
	var wg sync.WaitGroup
	err := s.accept(ctx, tracked, func(nc net.Conn) {
		wg.Go(func() { s.serveConn(ctx, nc) })
	})
	stop()
	tracked.CloseAll()
	wg.Wait()
	return err
}

// accept calls handle for each connection ln accepts, until ln fails or ctx ends,
// backing off on temporary errors. It returns nil when ctx ended.
func (s *Server) accept(ctx context.Context, ln net.Listener, handle func(net.Conn)) error {
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err == nil {
			delay = 0
			handle(nc)
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("sftp: accept: %w", err)
		}
		delay = min(max(2*delay, 5*time.Millisecond), time.Second)
		s.log.Warn("accepting an SFTP connection", "err", err, "retry_in", delay)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
	}
}

// serveConn runs one SSH connection: handshake, authentication, then its sessions.
func (s *Server) serveConn(ctx context.Context, nc net.Conn) {
	defer nc.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	remote := nc.RemoteAddr()
	log := s.log.With("protocol", Protocol, "remote", remote.String())
	if s.accounts.Banned(remote) {
		log.Info("refused a banned address")
		return
	}
	nc.SetDeadline(time.Now().Add(handshakeTimeout))
	var cc *corkConn // nil: the SFTP layer cannot hold writes back
	if !s.writeEach {
		cc = newCorkConn(nc)
		if s.lingerBatch != 0 {
			cc.batch.Store(int64(s.lingerBatch))
		}
		nc = cc
	}
	var fsys *vfs.FS // set by a successful password login
	sc, chans, reqs, err := ssh.NewServerConn(nc, s.config(ctx, &fsys))
	if err != nil {
		log.Debug("SSH handshake failed", "err", err)
		return
	}
	defer sc.Close()
	nc.SetDeadline(time.Time{})
	log = log.With("user", sc.User())
	if fsys == nil {
		if fsys, err = s.keyLogin(ctx, sc); err != nil {
			log.Info("SSH key login refused after the handshake", "err", err)
			return
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { ssh.DiscardRequests(reqs) }) // global requests: no port forwarding
	for nch := range chans {
		if nch.ChannelType() != "session" {
			nch.Reject(ssh.Prohibited, "only the sftp subsystem is available")
			continue
		}
		ch, chReqs, err := nch.Accept()
		if err != nil {
			log.Debug("accepting an SSH channel", "err", err)
			continue
		}
		wg.Go(func() { s.serveSession(ctx, log, fsys, cc, ch, chReqs) })
	}
}

// config returns the SSH configuration of one connection; a successful password
// login stores the account's filesystem in *fsys.
func (s *Server) config(ctx context.Context, fsys **vfs.FS) *ssh.ServerConfig {
	cfg := &ssh.ServerConfig{
		ServerVersion: "SSH-2.0-Filegate",
		PasswordCallback: func(c ssh.ConnMetadata, password []byte) (*ssh.Permissions, error) {
			pw := string(password)
			f, err := s.accounts.Login(ctx, Protocol, c.RemoteAddr(), c.User(), accounts.Credential{Password: &pw}, true)
			if err != nil {
				return nil, fmt.Errorf("sftp: password login of %q: %w", c.User(), err)
			}
			*fsys = f
			return &ssh.Permissions{}, nil
		},
		PublicKeyCallback: func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if err := s.accounts.AcceptsKey(ctx, c.RemoteAddr(), c.User(), key); err != nil {
				return nil, fmt.Errorf("sftp: key %s for %q: %w", ssh.FingerprintSHA256(key), c.User(), err)
			}
			return &ssh.Permissions{Extensions: map[string]string{extPublicKey: string(key.Marshal())}}, nil
		},
	}
	for _, k := range s.hostKeys {
		cfg.AddHostKey(k)
	}
	return cfg
}

// keyLogin logs in the account whose key the client proved it holds, recording the
// login.
func (s *Server) keyLogin(ctx context.Context, sc *ssh.ServerConn) (*vfs.FS, error) {
	if sc.Permissions == nil || sc.Permissions.Extensions[extPublicKey] == "" {
		return nil, errors.New("sftp: authenticated without a password or key")
	}
	key, err := ssh.ParsePublicKey([]byte(sc.Permissions.Extensions[extPublicKey]))
	if err != nil {
		return nil, fmt.Errorf("sftp: accepted key: %w", err)
	}
	return s.accounts.Login(ctx, Protocol, sc.RemoteAddr(), sc.User(), accounts.Credential{PublicKey: key}, false)
}
