// Filegate: the SIMD keystream must be the one golang.org/x/crypto/chacha20 gives.

package ssh

import (
	"bytes"
	"encoding/binary"
	"testing"

	"golang.org/x/crypto/chacha20"
)

// TestChaChaStreamMatchesXCrypto compares newChaChaStream with x/crypto's ChaCha20 for
// the ways cipher.go uses it: a 32-byte poly1305 key, 32 bytes skipped, then packets
// of many lengths, in pieces and at sequence numbers up to the largest.
func TestChaChaStreamMatchesXCrypto(t *testing.T) {
	var key [32]byte
	for i := range key {
		key[i] = byte(i*37 + 11)
	}
	for _, seq := range []uint32{0, 1, 2, 255, 65536, 1<<31 + 5, 1<<32 - 1} {
		for _, n := range []int{0, 1, 4, 31, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 512, 1000, 32768 + 29, 35000, 256 << 10} {
			nonce := make([]byte, 12)
			binary.BigEndian.PutUint32(nonce[8:], seq)
			want, err := chacha20.NewUnauthenticatedCipher(key[:], nonce)
			if err != nil {
				t.Fatal(err)
			}
			got, err := newChaChaStream(&key, seq)
			if err != nil {
				t.Fatal(err)
			}
			for _, piece := range []int{32, 32, n, 3, 64} {
				src := make([]byte, piece)
				for i := range src {
					src[i] = byte(i * 7)
				}
				a, b := make([]byte, piece), make([]byte, piece)
				want.XORKeyStream(a, src)
				got.XORKeyStream(b, src)
				if !bytes.Equal(a, b) {
					t.Fatalf("seq %d, packet %d bytes: the piece of %d bytes differs", seq, n, piece)
				}
			}
		}
	}
}

// BenchmarkChaChaStream is the keystream of one 32 KiB packet (the SFTP payload size).
func BenchmarkChaChaStream(b *testing.B) {
	var key [32]byte
	buf := make([]byte, 32<<10)
	b.Run("aead", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		for i := 0; b.Loop(); i++ {
			s, _ := newChaChaStream(&key, uint32(i))
			s.XORKeyStream(buf, buf)
		}
	})
	b.Run("x-crypto", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		nonce := make([]byte, 12)
		for i := 0; b.Loop(); i++ {
			binary.BigEndian.PutUint32(nonce[8:], uint32(i))
			s, _ := chacha20.NewUnauthenticatedCipher(key[:], nonce)
			s.XORKeyStream(buf, buf)
		}
	})
}
