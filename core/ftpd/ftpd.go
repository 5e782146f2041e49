// Package ftpd is Filegate's FTP and FTPS front end, built on ftpserverlib. Every
// account works on its vfs view: chrooted, rights-checked, and recording events with
// protocol "ftp", or "ftps" when the session negotiated TLS.
//
// Uploads stream into the storage and are committed only when the transfer ended
// normally. FTP has no length header for STOR: a data connection that breaks (reset,
// ABOR, TLS error), or a client whose control connection is gone when the data
// connection ends, leaves no file; a client that closes the data connection cleanly in
// the middle of a file cannot be told from one that finished.
package ftpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"

	ftpserver "github.com/fclairamb/ftpserverlib"

	"github.com/filegate/filegate/core/accounts"
	"github.com/filegate/filegate/core/config"
	"github.com/filegate/filegate/core/internal/conntrack"
	"github.com/filegate/filegate/core/vfs"
)

// Accounts checks logins.
type Accounts interface {
	// Banned reports whether remote may not log in now.
	Banned(remote net.Addr) bool
	// Login checks a login on protocol, records it (counting a failure toward a ban
	// when countFailure) and returns the account's filesystem.
	Login(ctx context.Context, protocol string, remote net.Addr, username string, cred accounts.Credential, countFailure bool) (*vfs.FS, error)
}

// Server is the FTP/FTPS front end.
type Server struct {
	settings ftpserver.Settings // a template: each Serve gets a copy
	tls      *tls.Config        // nil when [ftp] tls = "off"
	accounts Accounts
	log      *slog.Logger
}

// New returns a server for cfg. tlsConfig is required unless cfg.TLS is "off".
func New(cfg config.FTP, tlsConfig *tls.Config, accts Accounts, log *slog.Logger) (*Server, error) {
	lo, hi, err := cfg.PassiveRange()
	if err != nil {
		return nil, fmt.Errorf("ftp: %w", err)
	}
	s := &Server{
		settings: ftpserver.Settings{
			Banner:                   "Filegate FTP",
			PassiveTransferPortRange: ftpserver.PortRange{Start: lo, End: hi},
			DisableActiveMode:        true,
			DisableSite:              true, // no CHMOD, CHOWN, SYMLINK: the storage has none
			DefaultTransferType:      ftpserver.TransferTypeBinary,
			IdleTimeout:              900,
			ConnectionTimeout:        30,
		},
		accounts: accts,
		log:      log,
	}
	switch cfg.TLS {
	case "off":
		return s, nil
	case "explicit":
		if cfg.TLSRequired {
			s.settings.TLSRequired = ftpserver.MandatoryEncryption
		}
	case "implicit":
		s.settings.TLSRequired = ftpserver.ImplicitEncryption
	default:
		return nil, fmt.Errorf("ftp: tls = %q: want off, explicit or implicit", cfg.TLS)
	}
	if tlsConfig == nil {
		return nil, fmt.Errorf("ftp: tls = %q needs a certificate", cfg.TLS)
	}
	s.tls = tlsConfig
	return s, nil
}

// Serve accepts FTP clients on ln until ctx ends, then closes ln and every client
// connection, and returns once every session and transfer has finished.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	d := &mainDriver{srv: s, ctx: ctx}
	// Counting connections at Accept, before ftpserverlib starts their goroutines, lets
	// Serve wait for connections it has not heard of yet; each session's end (and its
	// last transfer's) marks it done.
	tracked := conntrack.New(ln)
	tracked.OnAccept = func() { d.active.Add(1) }
	var l net.Listener = tracked
	if s.settings.TLSRequired == ftpserver.ImplicitEncryption {
		l = tls.NewListener(l, s.tls)
	}
	d.settings = s.settings
	d.settings.Listener = l
	ftp := ftpserver.NewFtpServer(d)
	ftp.Logger = s.log
	if err := ftp.Listen(); err != nil {
		tracked.CloseAll()
		return fmt.Errorf("ftp: %w", err)
	}
	served := make(chan error, 1)
	go func() { served <- ftp.Serve() }()
	var err error
	select {
	case <-ctx.Done():
		if stopErr := ftp.Stop(); stopErr != nil && !errors.Is(stopErr, ftpserver.ErrNotListening) {
			s.log.Warn("stopping the FTP listener", "err", stopErr)
		}
		err = <-served
	case err = <-served:
		ftp.Stop() // closes the passive listeners
	}
	// Closing the connections (not ClientContext.Close, which races with QUIT in
	// ftpserverlib) ends each session, which ends its transfers.
	tracked.CloseAll()
	d.active.Wait()
	if err != nil {
		return fmt.Errorf("ftp: %w", err)
	}
	return nil
}
