package ftpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	ftpserver "github.com/fclairamb/ftpserverlib"

	"github.com/filegate/filegate/core/accounts"
)

var (
	errBanned = errors.New("too many failed logins from this address: try again later")
	errLogin  = errors.New("login incorrect")
	errNoTLS  = errors.New("TLS is not enabled on this server")
)

// mainDriver is the ftpserverlib MainDriver of one Serve call: it owns the sessions.
type mainDriver struct {
	srv      *Server
	ctx      context.Context
	settings ftpserver.Settings
	active   sync.WaitGroup // connections (and their transfers) not finished
}

// GetSettings returns the server settings.
func (d *mainDriver) GetSettings() (*ftpserver.Settings, error) { return &d.settings, nil }

// GetTLSConfig returns the certificate for AUTH TLS and implicit TLS.
func (d *mainDriver) GetTLSConfig() (*tls.Config, error) {
	if d.srv.tls == nil {
		return nil, errNoTLS
	}
	return d.srv.tls, nil
}

// ClientConnected starts a session, refusing banned addresses.
func (d *mainDriver) ClientConnected(cc ftpserver.ClientContext) (string, error) {
	if d.srv.accounts.Banned(cc.RemoteAddr()) {
		d.srv.log.Info("refused a banned address", "protocol", "ftp", "remote", cc.RemoteAddr().String())
		return errBanned.Error(), errBanned
	}
	ctx, cancel := context.WithCancel(d.ctx)
	cc.SetExtra(&session{d: d, ctx: ctx, cancel: cancel, log: d.srv.log.With("client", cc.ID(), "remote", cc.RemoteAddr().String())})
	return "Filegate FTP ready", nil
}

// ClientDisconnected ends the session; it is called for every connection, even one
// ClientConnected refused.
func (d *mainDriver) ClientDisconnected(cc ftpserver.ClientContext) {
	if s, ok := cc.Extra().(*session); ok {
		s.disconnected()
		return
	}
	d.active.Done()
}

// AuthUser checks the password and returns the account's filesystem.
func (d *mainDriver) AuthUser(cc ftpserver.ClientContext, user, pass string) (ftpserver.ClientDriver, error) {
	s, ok := cc.Extra().(*session)
	if !ok {
		return nil, errLogin
	}
	protocol := "ftp"
	if cc.HasTLSForControl() {
		protocol = "ftps"
	}
	fsys, err := d.srv.accounts.Login(s.ctx, protocol, cc.RemoteAddr(), user, accounts.Credential{Password: &pass}, true)
	if err != nil {
		if d.srv.accounts.Banned(cc.RemoteAddr()) {
			return nil, errBanned
		}
		return nil, errLogin
	}
	s.log = s.log.With("user", user, "protocol", protocol)
	return &clientFS{s: s, fs: fsys}, nil
}

// session is one control connection. It counts toward mainDriver.active until the
// client has gone and its last transfer has closed.
type session struct {
	d      *mainDriver
	ctx    context.Context // ends when the client goes or the server stops
	cancel context.CancelFunc
	log    *slog.Logger

	mu   sync.Mutex
	open int  // transfers not closed yet
	gone bool // the control connection has ended
}

// acquire counts a transfer starting; it fails once the client has gone.
func (s *session) acquire() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone {
		return fmt.Errorf("ftp: %w", errClientGone)
	}
	s.open++
	return nil
}

// release counts a transfer closed.
func (s *session) release() {
	s.mu.Lock()
	s.open--
	last := s.gone && s.open == 0
	s.mu.Unlock()
	if last {
		s.d.active.Done()
	}
}

// isGone reports whether the control connection has ended.
func (s *session) isGone() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gone
}

// disconnected marks the control connection ended.
func (s *session) disconnected() {
	s.mu.Lock()
	s.gone = true
	last := s.open == 0
	s.mu.Unlock()
	s.cancel()
	if last {
		s.d.active.Done()
	}
}
