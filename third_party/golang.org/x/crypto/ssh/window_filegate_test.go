package ssh

import (
	"encoding/binary"
	"io"
	"math/rand/v2"
	"testing"
)

// windowAdjusts is a packetConn that records the window adjustments sent on it.
type windowAdjusts struct{ sent []uint32 }

func (w *windowAdjusts) writePacket(p []byte) error {
	if p[0] == msgChannelWindowAdjust {
		w.sent = append(w.sent, binary.BigEndian.Uint32(p[5:]))
	}
	return nil
}
func (w *windowAdjusts) readPacket() ([]byte, error) { return nil, io.EOF }
func (w *windowAdjusts) Close() error                { return nil }

// TestWindowAdjustedInBatches: a peer that sends as fast as its window allows gets an
// adjustment per windowAdjustFrom bytes read, however small the reads (upstream sent
// one per read), and bytes read are never withheld from it for windowAdjustFrom or
// more: it cannot stall.
func TestWindowAdjustedInBatches(t *testing.T) {
	conn := &windowAdjusts{}
	ch := (&mux{conn: conn}).newChannel("session", channelInbound, nil)
	ch.decided = true
	r := rand.New(rand.NewPCG(1, 2))
	const total = 64 << 20
	sent, read := 0, 0
	buf := make([]byte, channelMaxPacket)
	for read < total {
		for sent < total && ch.myWindow > 0 { // the peer fills its window
			n := min(channelMaxPacket, int(ch.myWindow), total-sent)
			packet := make([]byte, 9+n)
			packet[0] = msgChannelData
			binary.BigEndian.PutUint32(packet[5:], uint32(n))
			if err := ch.handleData(packet); err != nil {
				t.Fatal(err)
			}
			sent += n
		}
		for read < sent { // the reader drains it in reads of any size
			size := 4 // pkg/sftp reads a length, then the rest
			if r.IntN(2) == 0 {
				size = 1 + r.IntN(len(buf))
			}
			n, err := ch.Read(buf[:size])
			if err != nil {
				t.Fatal(err)
			}
			read += n
			// The window the peer lacks beyond what is still unread.
			if short := channelWindowSize - int(ch.myWindow) - (sent - read); short >= windowAdjustFrom {
				t.Fatalf("after %d bytes read: %d bytes read and not credited to the peer", read, short)
			}
		}
	}
	if max := total/windowAdjustFrom + 1; len(conn.sent) > max {
		t.Errorf("%d window adjustments for %d bytes, want at most %d", len(conn.sent), total, max)
	}
	for _, a := range conn.sent {
		if a < windowAdjustFrom {
			t.Fatalf("an adjustment of %d bytes, want at least %d", a, windowAdjustFrom)
		}
	}
}
