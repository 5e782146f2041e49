package vfs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"testing"
)

// TestHasher feeds a hasher writes of every size around its chunk size, with resets and
// intermediate sums, and compares each sum with crypto/sha256's.
func TestHasher(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 5*hashChunk+12345)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	want := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	sizes := []int{1, 100, 4096, 32 << 10, hashChunk - 1, hashChunk, hashChunk + 1, 3 * hashChunk}
	for _, size := range sizes {
		h := newHasher()
		for off := 0; off < len(data); off += size {
			h.Write(data[off:min(off+size, len(data))])
		}
		if got := h.sum(); got != want(data) {
			t.Errorf("writes of %d: sum %s, want %s", size, got, want(data))
		}
		if h.owned > hasherBuffers {
			t.Errorf("writes of %d: %d chunks, want at most %d", size, h.owned, hasherBuffers)
		}
		h.reset()
		h.Write(data[:777])
		if got := h.sum(); got != want(data[:777]) {
			t.Errorf("after reset: sum %s, want %s", got, want(data[:777]))
		}
		h.close()
	}
}

// TestHasherSmallFileNoGoroutine: a file smaller than a chunk is hashed in line.
func TestHasherSmallFileNoGoroutine(t *testing.T) {
	h := newHasher()
	defer h.close()
	b := bytes.Repeat([]byte("a"), 1000)
	h.Write(b)
	if got, s := h.sum(), sha256.Sum256(b); got != hex.EncodeToString(s[:]) || h.work != nil {
		t.Fatalf("sum %s, goroutine started: %v", got, h.work != nil)
	}
}

// TestHasherCloseWhileHashing: close with chunks still queued stops the goroutine and
// can be called on a hasher that never started one.
func TestHasherCloseWhileHashing(t *testing.T) {
	h := newHasher()
	h.Write(make([]byte, 3*hashChunk+5))
	h.close()
	if h.owned != 0 || h.spare != nil {
		t.Fatalf("after close: %d chunks owned, %d spare", h.owned, len(h.spare))
	}
	newHasher().close()
}
