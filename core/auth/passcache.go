package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"
)

// maxCachedPasswords bounds a PasswordCache: beyond it, expired entries are swept and, if
// that is not enough, an arbitrary entry is dropped (which only costs its owner one more
// derivation).
const maxCachedPasswords = 10_000

// PasswordCache remembers for a while which passwords matched which stored hashes, so a
// client that logs in again and again (FTP clients open a session per transfer, sync
// tools several at once) is not charged an argon2id derivation, ~20 ms of a core and
// 19 MiB of memory, each time.
//
// It holds no password and no hash of one that outlives the process: an entry is an
// HMAC-SHA256, under a key drawn when the cache is made, of a stored hash and a password
// that matched it. A new password has a new stored hash (a new salt), so an old password
// misses as soon as the store says so. Only matches are remembered: a wrong password
// always costs a full derivation. An entry expires ttl after the derivation that made
// it, however often it is used.
//
// The trade-off: while an entry lives, someone who can read the process's memory could
// test guesses of that password at HMAC speed instead of argon2id's. Such a reader also
// sees passwords as clients send them; set ttl to 0 (no cache) where that still matters.
//
// A nil *PasswordCache checks every password with CheckPassword. Its methods are safe
// for concurrent use.
type PasswordCache struct {
	ttl   time.Duration
	key   [32]byte
	now   func() time.Time
	check func(hash, password string) bool

	mu   sync.Mutex
	seen map[[sha256.Size]byte]time.Time // HMAC of hash and password -> expiry
}

// NewPasswordCache returns a cache whose entries live for ttl, or nil (no cache) when
// ttl <= 0.
func NewPasswordCache(ttl time.Duration) *PasswordCache {
	if ttl <= 0 {
		return nil
	}
	c := &PasswordCache{ttl: ttl, now: time.Now, check: CheckPassword, seen: map[[sha256.Size]byte]time.Time{}}
	rand.Read(c.key[:])
	return c
}

// Check reports whether password matches hash, as CheckPassword does, deriving only when
// the pair has not matched within the cache's ttl.
func (c *PasswordCache) Check(hash, password string) bool {
	if c == nil {
		return CheckPassword(hash, password)
	}
	id := c.id(hash, password)
	if c.fresh(id) {
		return true
	}
	if !c.check(hash, password) {
		return false
	}
	c.remember(id)
	return true
}

// id is the entry for a pair; the zero byte keeps "ab"+"c" apart from "a"+"bc" (a PHC
// hash string never contains one).
func (c *PasswordCache) id(hash, password string) [sha256.Size]byte {
	m := hmac.New(sha256.New, c.key[:])
	m.Write([]byte(hash))
	m.Write([]byte{0})
	m.Write([]byte(password))
	var id [sha256.Size]byte
	m.Sum(id[:0])
	return id
}

func (c *PasswordCache) fresh(id [sha256.Size]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.seen[id]
	if ok && !c.now().Before(exp) {
		delete(c.seen, id)
		return false
	}
	return ok
}

func (c *PasswordCache) remember(id [sha256.Size]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.seen) >= maxCachedPasswords {
		for k, exp := range c.seen {
			if !now.Before(exp) {
				delete(c.seen, k)
			}
		}
	}
	if len(c.seen) >= maxCachedPasswords {
		for k := range c.seen {
			delete(c.seen, k)
			break
		}
	}
	c.seen[id] = now.Add(c.ttl)
}
