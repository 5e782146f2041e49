// Package accounts is the account logic every front end shares: REST API accounts and
// their bearer tokens, and FTP accounts with their validation and logins. It is free of
// HTTP so that the CLI, FTP and SFTP use exactly the same rules.
package accounts

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/filegate/filegate/core/auth"
	"github.com/filegate/filegate/core/store"
	"github.com/filegate/filegate/core/vfs"
	"golang.org/x/crypto/ssh"
)

// Errors a caller maps to a status: ErrInvalid → 400, ErrUnauthorized → 401,
// ErrForbidden → 403; store.ErrNotFound → 404, store.ErrDuplicate → 409.
var (
	ErrInvalid      = errors.New("invalid request")
	ErrUnauthorized = errors.New("unauthorized")
	ErrForbidden    = errors.New("forbidden")
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Service manages accounts over a store.
type Service struct {
	Store  *store.Store
	Tokens *auth.Tokens
	// EnsureDir creates a folder of a tenant's storage (an FTP account's chroot).
	// nil skips it.
	EnsureDir func(ctx context.Context, t store.Tenant, dir string) error
	Now       func() time.Time
	// Passwords checks FTP account passwords at login, remembering recent matches;
	// nil derives every time.
	Passwords *auth.PasswordCache
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Principal is an authenticated REST API caller.
type Principal struct {
	Tenant  store.Tenant
	Account store.APIAccount
}

// Authenticate exchanges the three keys for a bearer token and its expiry. Every kind
// of mismatch is the same ErrUnauthorized, so a caller cannot probe which key was wrong.
func (s *Service) Authenticate(ctx context.Context, associationKey, accessKey, secretKey string) (string, time.Time, error) {
	a, err := s.Store.APIAccountByKey(ctx, accessKey)
	if errors.Is(err, store.ErrNotFound) {
		auth.CheckSecret("", secretKey) // same work as a real check
		return "", time.Time{}, fmt.Errorf("%w: bad AssociationKey, AccessKey or SecretKey", ErrUnauthorized)
	}
	if err != nil {
		return "", time.Time{}, err
	}
	t, err := s.Store.Tenant(ctx, a.TenantID)
	if err != nil {
		return "", time.Time{}, err
	}
	okSecret := auth.CheckSecret(a.SecretHash, secretKey)
	if !okSecret || t.AssociationKey != associationKey {
		return "", time.Time{}, fmt.Errorf("%w: bad AssociationKey, AccessKey or SecretKey", ErrUnauthorized)
	}
	if a.Expired(s.now()) {
		return "", time.Time{}, fmt.Errorf("%w: the REST API account expired at %s", ErrUnauthorized, a.ExpiresAt.Format(time.RFC3339))
	}
	return s.Tokens.Issue(t.ID, a.AccessKey, a.ExpiresAt)
}

// Verify checks a bearer token and that its REST API account still exists, belongs to
// the token's tenant and has not expired: revocation and expiry take effect at once.
func (s *Service) Verify(ctx context.Context, token string) (Principal, error) {
	c, err := s.Tokens.Verify(token)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	a, err := s.Store.APIAccountByKey(ctx, c.Subject)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, fmt.Errorf("%w: the REST API account was revoked", ErrUnauthorized)
	}
	if err != nil {
		return Principal{}, err
	}
	if a.TenantID != c.TenantID {
		return Principal{}, fmt.Errorf("%w: token tenant mismatch", ErrUnauthorized)
	}
	if a.Expired(s.now()) {
		return Principal{}, fmt.Errorf("%w: the REST API account expired", ErrUnauthorized)
	}
	t, err := s.Store.Tenant(ctx, a.TenantID)
	if err != nil {
		return Principal{}, err
	}
	return Principal{Tenant: t, Account: a}, nil
}

// NewAPIAccount describes a REST API account to create.
type NewAPIAccount struct {
	Scopes      []string
	ExpiresAt   time.Time // zero: never
	PathPrefix  string
	Description string
}

// CreateAPIAccount creates a REST API account in tenant and returns it with its
// SecretKey, which is never available again. grantor, when non-nil, is the account
// asking: it can grant only scopes it holds and only inside its own PathPrefix.
func (s *Service) CreateAPIAccount(ctx context.Context, tenantID int64, grantor *store.APIAccount, in NewAPIAccount) (store.APIAccount, string, error) {
	scopes, err := auth.ParseScopes(in.Scopes)
	if err != nil {
		return store.APIAccount{}, "", invalid("Scopes: %v", err)
	}
	prefix := "/"
	if in.PathPrefix != "" {
		if prefix, err = vfs.CleanPath(in.PathPrefix); err != nil {
			return store.APIAccount{}, "", invalid("PathPrefix: %v", err)
		}
	}
	if !in.ExpiresAt.IsZero() && !in.ExpiresAt.After(s.now()) {
		return store.APIAccount{}, "", invalid("ExpiresAt: %s is in the past", in.ExpiresAt.Format(time.RFC3339))
	}
	if len(in.Description) > 1000 {
		return store.APIAccount{}, "", invalid("Description: at most 1000 characters")
	}
	if grantor != nil {
		if m := auth.Missing(grantor.Scopes, scopes); m != "" {
			return store.APIAccount{}, "", fmt.Errorf("%w: cannot grant scope %s, which this REST API account does not hold", ErrForbidden, m)
		}
		if !within(prefix, grantor.PathPrefix) {
			return store.APIAccount{}, "", fmt.Errorf("%w: PathPrefix %q is outside this REST API account's %q", ErrForbidden, prefix, grantor.PathPrefix)
		}
		if !grantor.ExpiresAt.IsZero() && (in.ExpiresAt.IsZero() || in.ExpiresAt.After(grantor.ExpiresAt)) {
			in.ExpiresAt = grantor.ExpiresAt // a key never outlives the key that made it
		}
	}
	secret := auth.NewSecretKey()
	a, err := s.Store.CreateAPIAccount(ctx, store.APIAccount{
		TenantID: tenantID, AccessKey: auth.NewAccessKey(), SecretHash: auth.HashSecret(secret),
		Scopes: scopes, PathPrefix: prefix, Description: in.Description, ExpiresAt: in.ExpiresAt.UTC(),
	})
	return a, secret, err
}

// within reports whether p is base or inside it.
func within(p, base string) bool {
	if base == "" || base == "/" {
		return true
	}
	return p == base || strings.HasPrefix(p, strings.TrimSuffix(base, "/")+"/")
}

// ParseCIDRs validates AllowedIPs: CIDRs, or bare addresses taken as one host.
func ParseCIDRs(in []string) ([]string, error) {
	out := []string{}
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR or IP address", s)
			}
			s = netip.PrefixFrom(a, a.BitLen()).String()
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR (e.g. 203.0.113.0/24): %v", s, err)
		}
		out = append(out, p.Masked().String())
	}
	return out, nil
}

// IPAllowed reports whether addr matches one of cidrs; an empty list allows any.
func IPAllowed(cidrs []string, addr netip.Addr) bool {
	if len(cidrs) == 0 {
		return true
	}
	addr = addr.Unmap()
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil && p.Contains(addr) {
			return true
		}
	}
	return false
}

// ParseSSHKeys validates authorized_keys lines and returns them normalised
// ("type base64 comment"). A malformed key is an error naming its position.
func ParseSSHKeys(in []string) ([]string, error) {
	out := []string{}
	for i, line := range in {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, comment, _, rest, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			return nil, fmt.Errorf("key %d is not an OpenSSH public key (want e.g. \"ssh-ed25519 AAAA... user@host\"): %v", i+1, err)
		}
		if len(strings.TrimSpace(string(rest))) > 0 {
			return nil, fmt.Errorf("key %d: one key per entry", i+1)
		}
		norm := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
		if comment != "" {
			norm += " " + comment
		}
		out = append(out, norm)
	}
	return out, nil
}

// KeyFingerprint is the SHA256 fingerprint of an authorized_keys line, as ssh-keygen -l
// prints it; "" for a malformed line.
func KeyFingerprint(line string) string {
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return ""
	}
	return ssh.FingerprintSHA256(k)
}
