// Filegate: the keystreams of chacha20-poly1305@openssh.com come from
// github.com/aead/chacha20, which has SSSE3 and AVX2 code for amd64, where
// golang.org/x/crypto/chacha20 has none (5x faster on 32 KiB packets). See FILEGATE.md.

package ssh

import (
	"encoding/binary"

	"github.com/aead/chacha20/chacha"
)

// chachaStream is the ChaCha20 keystream of a key and a packet's sequence number.
type chachaStream interface {
	XORKeyStream(dst, src []byte)
}

// newChaChaStream returns the keystream of key for the packet seqNum, from block 0:
// the protocol's 64-bit nonce is the sequence number, big-endian, with a 64-bit block
// counter (draft-josefsson-ssh-chacha20-poly1305-openssh-00).
func newChaChaStream(key *[32]byte, seqNum uint32) (chachaStream, error) {
	var nonce [chacha.NonceSize]byte
	binary.BigEndian.PutUint32(nonce[4:], seqNum)
	return chacha.NewCipher(nonce[:], key[:], 20)
}
