package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/filegate/filegate/core/accounts"
	"github.com/filegate/filegate/core/store"
	"github.com/filegate/filegate/core/vfs"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// ErrBanned is returned for a login from an address the guard has banned.
var ErrBanned = errors.New("too many failed logins from this address: try again later")

// AddrOf returns the IP address of a network address ("" when it has none).
func AddrOf(a net.Addr) netip.Addr {
	if a == nil {
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// Banned reports whether remote may not log in now.
func (g *Gateway) Banned(remote net.Addr) bool {
	b, _ := g.Guard.Banned(AddrOf(remote))
	return b
}

// Login checks an FTP account login on protocol (ftp, ftps, sftp), records
// login.succeeded or login.failed, and counts failures toward a ban. countFailure false
// is for probes that are not a failed attempt (an SSH client asking which of its keys
// would be accepted).
func (g *Gateway) Login(ctx context.Context, protocol string, remote net.Addr, username string, cred accounts.Credential, countFailure bool) (store.FTPAccount, store.Tenant, error) {
	addr := AddrOf(remote)
	if banned, _ := g.Guard.Banned(addr); banned {
		return store.FTPAccount{}, store.Tenant{}, ErrBanned
	}
	a, t, err := g.login(ctx, protocol, remote, username, cred)
	if err != nil {
		if !countFailure {
			return a, t, err
		}
		g.Guard.Failed(addr, protocol, username)
		g.Log.Info("login failed", "protocol", protocol, "user", username, "remote", remote.String(), "reason", err)
		if a.TenantID != 0 {
			g.recordLogin(ctx, a.TenantID, hostapi.EventLoginFailed, protocol, username, remote)
		}
		return a, t, err
	}
	g.Guard.Succeeded(addr)
	g.recordLogin(ctx, t.ID, hostapi.EventLoginSucceeded, protocol, username, remote)
	return a, t, nil
}

// banned logs a new ban and records login.banned in the tenant of the account the
// address was trying (an FTP username or a REST API AccessKey), or else in the first
// tenant, the operator's.
func (g *Gateway) banned(addr netip.Addr, until time.Time, protocol, account string) {
	g.Log.Warn("banned address after repeated failed logins", "addr", addr, "until", until, "protocol", protocol, "account", account)
	ctx := context.Background()
	var tenantID int64
	if a, err := g.Store.FTPAccountByUsername(ctx, account); err == nil {
		tenantID = a.TenantID
	} else if k, err := g.Store.APIAccountByKey(ctx, account); err == nil {
		tenantID = k.TenantID
	} else if ts, err := g.Store.Tenants(ctx); err == nil && len(ts) > 0 {
		tenantID = ts[0].ID
	}
	if tenantID == 0 {
		return
	}
	ev := hostapi.Event{Time: time.Now().UTC(), Type: hostapi.EventLoginBanned, Protocol: protocol, Account: account, Path: "/", RemoteAddr: addr.String()}
	if err := g.Store.Record(ctx, tenantID, ev); err != nil {
		g.Log.Error("recording a ban", "err", err)
	}
}

// login asks the [[auth]] plugins, then, when they all abstain, the FTP accounts. A
// plugin's Deny refuses the login; its Allow admits the (existing, enabled) account
// without checking the credential, with the plugin's overrides applied.
func (g *Gateway) login(ctx context.Context, protocol string, remote net.Addr, username string, cred accounts.Credential) (store.FTPAccount, store.Tenant, error) {
	addr := AddrOf(remote)
	if g.authorizer() == nil {
		return g.Accounts.LoginFTPAccount(ctx, username, cred, addr)
	}
	login := hostapi.Login{Protocol: protocol, Username: username, RemoteAddr: remote.String()}
	if cred.Password != nil {
		login.Password = *cred.Password
	}
	if cred.PublicKey != nil {
		login.PublicKey = cred.PublicKey.Marshal()
	}
	res, by := g.auth.authenticate(ctx, login)
	switch res.Verdict {
	case hostapi.VerdictDeny:
		a, _ := g.Store.FTPAccountByUsername(ctx, username) // its tenant records login.failed
		return a, store.Tenant{}, fmt.Errorf("%w: auth plugin %q denied the login: %s", accounts.ErrUnauthorized, by, res.Reason)
	case hostapi.VerdictAllow:
		a, t, err := g.Accounts.VouchedFTPAccount(ctx, username, addr)
		if err != nil {
			return a, t, err
		}
		if res.AccessRights != "" {
			a.AccessRights = res.AccessRights
		}
		if res.Chroot != "" && res.Chroot != a.Chroot {
			a.Chroot = res.Chroot
			if err := g.ensureDir(ctx, t, a.Chroot); err != nil {
				return a, store.Tenant{}, fmt.Errorf("creating the chroot %q auth plugin %q chose: %w", a.Chroot, by, err)
			}
		}
		g.Log.Debug("auth plugin allowed a login", "plugin", by, "user", username, "protocol", protocol, "reason", res.Reason)
		return a, t, nil
	}
	return g.Accounts.LoginFTPAccount(ctx, username, cred, addr)
}

// recordLogin records a login's outcome, even when the client has already gone.
func (g *Gateway) recordLogin(ctx context.Context, tenantID int64, typ, protocol, account string, remote net.Addr) {
	ev := hostapi.Event{Time: time.Now().UTC(), Type: typ, Protocol: protocol, Account: account, Path: "/", RemoteAddr: remote.String()}
	if err := g.Store.Record(context.WithoutCancel(ctx), tenantID, ev); err != nil {
		g.Log.Error("recording login event", "err", err)
	}
}

// AccountFS returns the filesystem view of an FTP account after a successful Login.
func (g *Gateway) AccountFS(a store.FTPAccount, t store.Tenant, protocol string, remote net.Addr) (*vfs.FS, error) {
	if a.TenantID != t.ID {
		return nil, fmt.Errorf("gateway: account %q is not in tenant %d", a.Username, t.ID)
	}
	rights, err := vfs.RightsFromAccess(a.AccessRights)
	if err != nil {
		return nil, fmt.Errorf("gateway: account %q: %w", a.Username, err)
	}
	fs, err := g.TenantFS(t, vfs.Session{Chroot: a.Chroot, Account: a.Username, Protocol: protocol, RemoteAddr: remote.String(), Rights: rights})
	if err != nil {
		return nil, err
	}
	return fs.AuthorizeWith(g.authorizer()), nil
}
