package accounts

import (
	"context"
	"fmt"
	"regexp"
	"slices"

	"github.com/filegate/filegate/core/auth"
	"github.com/filegate/filegate/core/store"
	"github.com/filegate/filegate/core/vfs"
)

// FTPAccountInput is a create or a partial update of an FTP account: a nil field is
// left as it is (or takes its default on create).
type FTPAccountInput struct {
	Username      *string
	Password      *string
	SSHPublicKeys *[]string
	AccessRights  *string
	Chroot        *string
	Description   *string
	Enabled       *bool
	AllowedIPs    *[]string
}

var usernameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// apply validates in and writes it into a. Every error names the field.
func (in FTPAccountInput) apply(a *store.FTPAccount) error {
	if in.Username != nil {
		if !usernameRE.MatchString(*in.Username) {
			return invalid("Username: 1 to 64 characters, letters, digits and . _ @ - (not first)")
		}
		a.Username = *in.Username
	}
	if in.Password != nil {
		if err := auth.CheckPasswordStrength(*in.Password); err != nil {
			return invalid("Password: %v", err)
		}
		a.PasswordHash = auth.HashPassword(*in.Password)
	}
	if in.SSHPublicKeys != nil {
		keys, err := ParseSSHKeys(*in.SSHPublicKeys)
		if err != nil {
			return invalid("SSHPublicKeys: %v", err)
		}
		a.SSHPublicKeys = keys
	}
	if in.AccessRights != nil {
		if !slices.Contains([]string{"R", "W", "RW"}, *in.AccessRights) {
			return invalid("AccessRights: want \"R\", \"W\" or \"RW\", got %q", *in.AccessRights)
		}
		a.AccessRights = *in.AccessRights
	}
	if in.Chroot != nil {
		c := *in.Chroot
		if c == "" {
			c = "/"
		}
		clean, err := vfs.CleanPath(c)
		if err != nil {
			return invalid("Chroot: %v", err)
		}
		a.Chroot = clean
	}
	if in.Description != nil {
		if len(*in.Description) > 1000 {
			return invalid("Description: at most 1000 characters")
		}
		a.Description = *in.Description
	}
	if in.Enabled != nil {
		a.Enabled = *in.Enabled
	}
	if in.AllowedIPs != nil {
		ips, err := ParseCIDRs(*in.AllowedIPs)
		if err != nil {
			return invalid("AllowedIPs: %v", err)
		}
		a.AllowedIPs = ips
	}
	return nil
}

// CreateFTPAccount validates in and creates the account in tenant t, making its chroot
// folder. Username is required. With neither Password nor SSHPublicKeys, a password is
// generated and returned (the only time it is available); otherwise generated is "".
func (s *Service) CreateFTPAccount(ctx context.Context, t store.Tenant, in FTPAccountInput) (a store.FTPAccount, generated string, err error) {
	a = store.FTPAccount{TenantID: t.ID, AccessRights: "RW", Chroot: "/", Enabled: true, SSHPublicKeys: []string{}, AllowedIPs: []string{}}
	if in.Username == nil {
		return a, "", invalid("Username is required")
	}
	if in.Password == nil && in.SSHPublicKeys == nil {
		generated = auth.NewPassword(20)
		in.Password = &generated
	}
	if err := in.apply(&a); err != nil {
		return a, "", err
	}
	if err := s.ensureChroot(ctx, t, a.Chroot); err != nil {
		return a, "", err
	}
	a, err = s.Store.CreateFTPAccount(ctx, a)
	return a, generated, err
}

// UpdateFTPAccount applies a partial update to one of t's FTP accounts.
func (s *Service) UpdateFTPAccount(ctx context.Context, t store.Tenant, id int64, in FTPAccountInput) (store.FTPAccount, error) {
	a, err := s.Store.FTPAccount(ctx, t.ID, id)
	if err != nil {
		return a, err
	}
	if err := in.apply(&a); err != nil {
		return a, err
	}
	if in.Chroot != nil {
		if err := s.ensureChroot(ctx, t, a.Chroot); err != nil {
			return a, err
		}
	}
	return s.Store.UpdateFTPAccount(ctx, a)
}

// RotatePassword gives one of t's FTP accounts a new generated password and returns it;
// it is not available again.
func (s *Service) RotatePassword(ctx context.Context, t store.Tenant, id int64) (store.FTPAccount, string, error) {
	pw := auth.NewPassword(20)
	a, err := s.UpdateFTPAccount(ctx, t, id, FTPAccountInput{Password: &pw})
	return a, pw, err
}

// AddSSHKey appends one public key to an FTP account (a duplicate is ignored).
func (s *Service) AddSSHKey(ctx context.Context, t store.Tenant, id int64, key string) (store.FTPAccount, error) {
	parsed, err := ParseSSHKeys([]string{key})
	if err != nil || len(parsed) == 0 {
		if err == nil {
			err = fmt.Errorf("empty key")
		}
		return store.FTPAccount{}, invalid("PublicKey: %v", err)
	}
	a, err := s.Store.FTPAccount(ctx, t.ID, id)
	if err != nil {
		return a, err
	}
	fp := KeyFingerprint(parsed[0])
	for _, k := range a.SSHPublicKeys {
		if KeyFingerprint(k) == fp {
			return a, nil
		}
	}
	keys := append(a.SSHPublicKeys, parsed[0])
	return s.UpdateFTPAccount(ctx, t, id, FTPAccountInput{SSHPublicKeys: &keys})
}

// RemoveSSHKey removes the key with the given SHA256 fingerprint.
func (s *Service) RemoveSSHKey(ctx context.Context, t store.Tenant, id int64, fingerprint string) (store.FTPAccount, error) {
	a, err := s.Store.FTPAccount(ctx, t.ID, id)
	if err != nil {
		return a, err
	}
	keys := []string{}
	for _, k := range a.SSHPublicKeys {
		if KeyFingerprint(k) != fingerprint {
			keys = append(keys, k)
		}
	}
	if len(keys) == len(a.SSHPublicKeys) {
		return a, fmt.Errorf("SSH key %s: %w", fingerprint, store.ErrNotFound)
	}
	return s.UpdateFTPAccount(ctx, t, id, FTPAccountInput{SSHPublicKeys: &keys})
}

func (s *Service) ensureChroot(ctx context.Context, t store.Tenant, dir string) error {
	if s.EnsureDir == nil || dir == "/" {
		return nil
	}
	if err := s.EnsureDir(ctx, t, dir); err != nil {
		return fmt.Errorf("create chroot %q: %w", dir, err)
	}
	return nil
}
