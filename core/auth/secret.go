// Package auth holds Filegate's credentials logic: password and secret hashing, key
// generation, scopes and the signed bearer tokens of the REST API.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// argon2id parameters: OWASP's recommended minimum (19 MiB, 2 passes, 1 lane). A login
// costs ~20 ms of one core, which keeps offline guessing slow without letting a burst
// of FTP logins exhaust memory.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// HashPassword hashes a password with argon2id into a PHC string
// ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
func HashPassword(password string) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// CheckPassword reports whether password matches a hash from HashPassword.
func CheckPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 1<<22 || t > 64 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 128 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// HashSecret hashes a generated API secret. Secrets carry 256 random bits, so one
// SHA-256 suffices (no dictionary to slow down), and authentication stays cheap.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// CheckSecret compares a secret with a hash from HashSecret in constant time.
func CheckSecret(hash, secret string) bool {
	return subtle.ConstantTimeCompare([]byte(HashSecret(secret)), []byte(hash)) == 1
}

// NewAccessKey returns a new public key id, "AK_" and 20 random characters.
func NewAccessKey() string { return "AK_" + randomString(20) }

// NewSecretKey returns a new secret, "sk_live_" and 43 random characters (256 bits).
func NewSecretKey() string { return "sk_live_" + randomString(43) }

// NewPassword returns a generated password of n characters, about 5.9 bits each.
func NewPassword(n int) string { return randomString(n) }

const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"

// randomString draws n characters uniformly from alphabet.
func randomString(n int) string {
	out := make([]byte, n)
	buf := make([]byte, 1)
	for i := 0; i < n; {
		rand.Read(buf)
		if int(buf[0]) >= 256-256%len(alphabet) { // reject to stay uniform
			continue
		}
		out[i] = alphabet[int(buf[0])%len(alphabet)]
		i++
	}
	return string(out)
}

// ErrPasswordTooWeak is returned by CheckPasswordStrength.
var ErrPasswordTooWeak = errors.New("password must be at least 8 characters")

// CheckPasswordStrength refuses passwords too short to resist online guessing.
func CheckPasswordStrength(p string) error {
	if len(p) < 8 {
		return ErrPasswordTooWeak
	}
	if len(p) > 1024 {
		return errors.New("password must be at most 1024 characters")
	}
	return nil
}
