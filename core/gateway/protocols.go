package gateway

import (
	"context"
	"crypto/tls"
	"net"
	"path/filepath"

	"golang.org/x/crypto/ssh"

	"github.com/filegate/filegate/core/accounts"
	"github.com/filegate/filegate/core/ftpd"
	"github.com/filegate/filegate/core/sftpd"
	"github.com/filegate/filegate/core/vfs"
)

// protocolFrontEnds returns the FTP and SFTP front ends.
func (g *Gateway) protocolFrontEnds() ([]frontEnd, error) {
	var fes []frontEnd
	if g.Config.FTP.Listen != "off" {
		var tlsConfig *tls.Config
		if g.Config.FTP.TLS != "off" {
			c, err := g.TLSConfig(g.Config.FTP.Cert, g.Config.FTP.Key)
			if err != nil {
				return nil, err
			}
			tlsConfig = c
		}
		srv, err := ftpd.New(g.Config.FTP, tlsConfig, frontEndAccounts{g}, g.Log.With("component", "ftp"))
		if err != nil {
			return nil, err
		}
		fes = append(fes, frontEnd{name: "ftp", listen: g.Config.FTP.Listen, serve: srv.Serve})
	}
	if g.Config.SFTP.Listen != "off" {
		data := g.Config.DataPath()
		keys, err := sftpd.LoadHostKeys(filepath.Join(data, HostKeyEd25519), filepath.Join(data, HostKeyRSA))
		if err != nil {
			return nil, err
		}
		srv, err := sftpd.New(keys, frontEndAccounts{g}, g.Log.With("component", "sftp"))
		if err != nil {
			return nil, err
		}
		fes = append(fes, frontEnd{name: "sftp", listen: g.Config.SFTP.Listen, serve: srv.Serve})
	}
	return fes, nil
}

// frontEndAccounts is the gateway as the FTP and SFTP front ends see it.
type frontEndAccounts struct{ g *Gateway }

var (
	_ ftpd.Accounts  = frontEndAccounts{}
	_ sftpd.Accounts = frontEndAccounts{}
)

// Banned reports whether remote may not log in now.
func (a frontEndAccounts) Banned(remote net.Addr) bool { return a.g.Banned(remote) }

// Login logs an FTP account in (see Gateway.Login) and returns its filesystem.
func (a frontEndAccounts) Login(ctx context.Context, protocol string, remote net.Addr, username string, cred accounts.Credential, countFailure bool) (*vfs.FS, error) {
	acct, t, err := a.g.Login(ctx, protocol, remote, username, cred, countFailure)
	if err != nil {
		return nil, err
	}
	return a.g.AccountFS(acct, t, protocol, remote)
}

// AcceptsKey checks that key may log username in, recording nothing.
func (a frontEndAccounts) AcceptsKey(ctx context.Context, remote net.Addr, username string, key ssh.PublicKey) error {
	if a.g.Banned(remote) {
		return ErrBanned
	}
	_, _, err := a.g.Accounts.LoginFTPAccount(ctx, username, accounts.Credential{PublicKey: key}, AddrOf(remote))
	return err
}
