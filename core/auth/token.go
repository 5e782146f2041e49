package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are the contents of a bearer token.
type Claims struct {
	TenantID int64 `json:"tid"`
	jwt.RegisteredClaims
}

// issuer names Filegate in the iss claim so tokens from other systems are refused.
const issuer = "filegate"

// ErrBadToken is returned for every token that must be refused; the wrapped reason
// is for logs, the client only learns 401.
var ErrBadToken = errors.New("invalid or expired token")

// Tokens issues and verifies HS256-signed JWTs with a key shared by every node.
type Tokens struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

// NewTokens returns a token service signing with key, issuing tokens valid for ttl.
func NewTokens(key []byte, ttl time.Duration) *Tokens {
	return &Tokens{key: key, ttl: ttl, now: time.Now}
}

// Issue returns a token for the REST API account accessKey of tenantID, and its expiry.
// A token never outlives the account's own expiry (accountExpiry, zero for never).
func (t *Tokens) Issue(tenantID int64, accessKey string, accountExpiry time.Time) (string, time.Time, error) {
	now := t.now()
	exp := now.Add(t.ttl)
	if !accountExpiry.IsZero() && accountExpiry.Before(exp) {
		exp = accountExpiry
	}
	exp = exp.Truncate(time.Second)
	c := Claims{TenantID: tenantID, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: issuer, Subject: accessKey, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp),
	}}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: sign token: %w", err)
	}
	return s, exp.UTC(), nil
}

// Verify checks a token's signature (HS256 only: alg=none and others are refused),
// issuer and expiry, and returns its claims.
func (t *Tokens) Verify(token string) (Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.key, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(issuer), jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(t.now), jwt.WithLeeway(0))
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrBadToken, err)
	}
	if c.Subject == "" || c.TenantID == 0 {
		return Claims{}, fmt.Errorf("%w: missing subject or tenant", ErrBadToken)
	}
	return c, nil
}
