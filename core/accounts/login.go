package accounts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/filegate/filegate/core/auth"
	"github.com/filegate/filegate/core/store"
	"golang.org/x/crypto/ssh"
)

// dummyHash makes a login for an unknown user cost as much as one for a known user.
var dummyHash = auth.HashPassword("filegate-timing-equaliser")

// Credential is what a client proved at login: a password or an SSH public key (whose
// signature the SSH layer has verified).
type Credential struct {
	Password  *string
	PublicKey ssh.PublicKey
}

// LoginFTPAccount checks an FTP/FTPS/SFTP login and returns the account and its tenant.
// Every refusal wraps ErrUnauthorized with a reason for the log; clients are told only
// that the login failed.
func (s *Service) LoginFTPAccount(ctx context.Context, username string, cred Credential, addr netip.Addr) (store.FTPAccount, store.Tenant, error) {
	a, err := s.Store.FTPAccountByUsername(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		if cred.Password != nil {
			auth.CheckPassword(dummyHash, *cred.Password)
		}
		return a, store.Tenant{}, fmt.Errorf("%w: no FTP account %q", ErrUnauthorized, username)
	}
	if err != nil {
		return a, store.Tenant{}, err
	}
	switch {
	case cred.Password != nil:
		if a.PasswordHash == "" || !s.Passwords.Check(a.PasswordHash, *cred.Password) {
			return a, store.Tenant{}, fmt.Errorf("%w: wrong password for %q", ErrUnauthorized, username)
		}
	case cred.PublicKey != nil:
		if !hasKey(a.SSHPublicKeys, cred.PublicKey) {
			return a, store.Tenant{}, fmt.Errorf("%w: key %s is not authorised for %q", ErrUnauthorized, ssh.FingerprintSHA256(cred.PublicKey), username)
		}
	default:
		return a, store.Tenant{}, fmt.Errorf("%w: no credential", ErrUnauthorized)
	}
	return s.admit(ctx, a, addr)
}

// VouchedFTPAccount is LoginFTPAccount for a login an auth plugin has already
// allowed: the credential is not checked, but the account must exist and be enabled,
// and addr must be in its AllowedIPs.
func (s *Service) VouchedFTPAccount(ctx context.Context, username string, addr netip.Addr) (store.FTPAccount, store.Tenant, error) {
	a, err := s.Store.FTPAccountByUsername(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		return a, store.Tenant{}, fmt.Errorf("%w: no FTP account %q (an auth plugin allowed the login, but the account must exist)", ErrUnauthorized, username)
	}
	if err != nil {
		return a, store.Tenant{}, err
	}
	return s.admit(ctx, a, addr)
}

// admit checks what applies to every login of a: enabled, from an allowed address.
func (s *Service) admit(ctx context.Context, a store.FTPAccount, addr netip.Addr) (store.FTPAccount, store.Tenant, error) {
	if !a.Enabled {
		return a, store.Tenant{}, fmt.Errorf("%w: FTP account %q is disabled", ErrUnauthorized, a.Username)
	}
	if !IPAllowed(a.AllowedIPs, addr) {
		return a, store.Tenant{}, fmt.Errorf("%w: %s is not in AllowedIPs of %q", ErrUnauthorized, addr, a.Username)
	}
	t, err := s.Store.Tenant(ctx, a.TenantID)
	return a, t, err
}

func hasKey(lines []string, key ssh.PublicKey) bool {
	want := key.Marshal()
	for _, l := range lines {
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(l))
		if err == nil && bytes.Equal(k.Marshal(), want) {
			return true
		}
	}
	return false
}
