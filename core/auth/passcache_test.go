package auth

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// countingCache is a cache on a clock the test moves, counting its derivations.
func countingCache(t *testing.T, ttl time.Duration) (c *PasswordCache, clock *time.Time, derived *int) {
	t.Helper()
	c = NewPasswordCache(ttl)
	now, n := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC), 0
	c.now = func() time.Time { return now }
	c.check = func(hash, password string) bool { n++; return CheckPassword(hash, password) }
	return c, &now, &n
}

func TestPasswordCache(t *testing.T) {
	c, clock, derived := countingCache(t, time.Minute)
	hash := HashPassword("StrongPassword123!")
	check := func(password string, want bool, wantDerived int) {
		t.Helper()
		if got := c.Check(hash, password); got != want {
			t.Fatalf("Check(%q) = %v, want %v", password, got, want)
		}
		if *derived != wantDerived {
			t.Fatalf("after Check(%q): %d derivations, want %d", password, *derived, wantDerived)
		}
	}
	check("StrongPassword123!", true, 1)
	check("StrongPassword123!", true, 1) // remembered
	check("StrongPassword123", false, 2) // a wrong password is derived ...
	check("StrongPassword123", false, 3) // ... every time, and never remembered
	check("", false, 4)
	check("StrongPassword123!", true, 4) // and does not disturb the right one

	*clock = clock.Add(59 * time.Second)
	check("StrongPassword123!", true, 4)
	*clock = clock.Add(time.Second) // ttl after the derivation, however often it was used
	check("StrongPassword123!", true, 5)
	check("StrongPassword123!", true, 5)

	// A new password means a new stored hash: the old password misses at once.
	rotated := HashPassword("AnotherPassword456!")
	if c.Check(rotated, "StrongPassword123!") {
		t.Fatal("the old password matches the rotated hash")
	}
	if *derived != 6 {
		t.Fatalf("the old password against the new hash: %d derivations, want 6", *derived)
	}
	// The same password hashed again (a new salt) is a new pair too.
	if !c.Check(HashPassword("StrongPassword123!"), "StrongPassword123!") || *derived != 7 {
		t.Fatalf("re-hashed password: %d derivations, want 7", *derived)
	}
}

func TestPasswordCacheEntries(t *testing.T) {
	c, other := NewPasswordCache(time.Minute), NewPasswordCache(time.Minute)
	hash := HashPassword("StrongPassword123!")
	if c.id(hash, "StrongPassword123!") == other.id(hash, "StrongPassword123!") {
		t.Fatal("two caches derive the same entry: the key is not random")
	}
	if c.id("ab", "c") == c.id("a", "bc") {
		t.Fatal("the pair's boundary is not part of the entry")
	}
}

func TestPasswordCacheBounded(t *testing.T) {
	c, clock, _ := countingCache(t, time.Minute)
	c.check = func(hash, password string) bool { return true } // no argon2id for 10,000 entries
	for i := range maxCachedPasswords + 50 {
		c.Check("hash", fmt.Sprint(i))
	}
	if len(c.seen) != maxCachedPasswords {
		t.Fatalf("%d entries, want at most %d", len(c.seen), maxCachedPasswords)
	}
	*clock = clock.Add(time.Hour) // everything expired: one new entry sweeps them all
	c.Check("hash", "new")
	if len(c.seen) != 1 {
		t.Fatalf("%d entries after the sweep, want 1", len(c.seen))
	}
}

func TestPasswordCacheOff(t *testing.T) {
	for _, ttl := range []time.Duration{0, -time.Second} {
		if NewPasswordCache(ttl) != nil {
			t.Fatalf("NewPasswordCache(%v) is not nil", ttl)
		}
	}
	var c *PasswordCache
	hash := HashPassword("StrongPassword123!")
	if !c.Check(hash, "StrongPassword123!") || c.Check(hash, "wrong") {
		t.Fatal("a nil cache does not check as CheckPassword does")
	}
}

func TestPasswordCacheConcurrent(t *testing.T) {
	c := NewPasswordCache(time.Minute)
	hash := HashPassword("StrongPassword123!")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 5 {
				pw := "StrongPassword123!"
				if i%2 == 1 {
					pw = "wrong-" + fmt.Sprint(i)
				}
				if got := c.Check(hash, pw); got != (i%2 == 0) {
					t.Errorf("Check(%q) = %v", pw, got)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkPasswordCheck compares a login's password check without the cache (an
// argon2id derivation) and with it (a remembered pair).
func BenchmarkPasswordCheck(b *testing.B) {
	hash := HashPassword("StrongPassword123!")
	for _, bc := range []struct {
		name  string
		cache *PasswordCache
	}{{"derive", nil}, {"cached", NewPasswordCache(time.Hour)}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !bc.cache.Check(hash, "StrongPassword123!") {
					b.Fatal("refused")
				}
			}
		})
	}
}
