package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestPasswordHash(t *testing.T) {
	h := HashPassword("StrongPassword123!")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(h, "StrongPassword") {
		t.Fatalf("hash %q", h)
	}
	if !CheckPassword(h, "StrongPassword123!") || CheckPassword(h, "StrongPassword123") || CheckPassword(h, "") {
		t.Fatal("CheckPassword accepts a wrong password or refuses the right one")
	}
	if HashPassword("x") == HashPassword("x") {
		t.Fatal("hashes are not salted")
	}
	for _, bad := range []string{"", "$argon2id$", "$bcrypt$x$y$z$w", "$argon2id$v=19$m=999999999,t=1,p=1$c2FsdA$aGFzaA"} {
		if CheckPassword(bad, "x") {
			t.Errorf("malformed hash %q accepted", bad)
		}
	}
}

func TestSecretsAndKeys(t *testing.T) {
	sk := NewSecretKey()
	if !strings.HasPrefix(sk, "sk_live_") || len(sk) != 8+43 || !strings.HasPrefix(NewAccessKey(), "AK_") {
		t.Fatalf("keys %q", sk)
	}
	h := HashSecret(sk)
	if !CheckSecret(h, sk) || CheckSecret(h, sk+"x") || strings.Contains(h, sk) {
		t.Fatal("secret hashing is wrong")
	}
	if NewSecretKey() == sk {
		t.Fatal("secrets repeat")
	}
}

func TestScopes(t *testing.T) {
	got, err := ParseScopes([]string{"file.read,file.list", "file.read event.read"})
	if err != nil || strings.Join(got, " ") != "event.read file.list file.read" {
		t.Fatalf("ParseScopes = %v, %v", got, err)
	}
	if _, err := ParseScopes([]string{"file.read,root"}); err == nil || !strings.Contains(err.Error(), `"root"`) {
		t.Fatalf("unknown scope: %v", err)
	}
	if _, err := ParseScopes(nil); err == nil {
		t.Fatal("no scopes accepted")
	}
	if Missing([]string{"a", "b"}, []string{"a", "c"}) != "c" || Missing([]string{"a"}, []string{"a"}) != "" {
		t.Fatal("Missing is wrong")
	}
}

func TestTokens(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tk := NewTokens([]byte("0123456789abcdef0123456789abcdef"), 15*time.Minute)
	tk.now = func() time.Time { return now }
	tok, exp, err := tk.Issue(7, "AK_x", time.Time{})
	if err != nil || !exp.Equal(now.Add(15*time.Minute)) {
		t.Fatalf("Issue: %v %v", exp, err)
	}
	c, err := tk.Verify(tok)
	if err != nil || c.Subject != "AK_x" || c.TenantID != 7 {
		t.Fatalf("Verify: %+v %v", c, err)
	}
	// A token never outlives its account.
	_, exp, _ = tk.Issue(7, "AK_x", now.Add(time.Minute))
	if !exp.Equal(now.Add(time.Minute)) {
		t.Fatalf("expiry %v, want the account's", exp)
	}
	later := NewTokens(tk.key, time.Minute)
	later.now = func() time.Time { return now.Add(16 * time.Minute) }
	if _, err := later.Verify(tok); !errors.Is(err, ErrBadToken) {
		t.Fatalf("expired token: %v", err)
	}
	other := NewTokens([]byte("another key, same length, 32 b.."), time.Minute)
	other.now = tk.now
	if _, err := other.Verify(tok); !errors.Is(err, ErrBadToken) {
		t.Fatal("token verified with another key")
	}
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"iss": "filegate", "sub": "AK_x", "tid": 7, "exp": now.Add(time.Hour).Unix()}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if _, err := tk.Verify(none); !errors.Is(err, ErrBadToken) {
		t.Fatal("alg=none accepted")
	}
	foreign, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "someone-else", "sub": "AK_x", "tid": 7, "exp": now.Add(time.Hour).Unix()}).SignedString(tk.key)
	if _, err := tk.Verify(foreign); !errors.Is(err, ErrBadToken) {
		t.Fatal("token of another issuer accepted")
	}
}
