// Filegate: channel data packets are read into recycled buffers.

package ssh

// dataPacketCap is the capacity of a recycled packet buffer: a channel data message
// with the 32 KiB of data OpenSSH and most clients put in a packet, its 9-byte header
// and room to spare. Larger packets get a buffer of their own.
const dataPacketCap = 32<<10 + 512

// dataPackets holds packet buffers whose data a channel's reader has copied out,
// for readPacket to use again: without them every 32 KiB of an upload was a new
// allocation, and the collection it caused took a sixth of the server's CPU. A
// channel, not a sync.Pool, so that recycling allocates nothing; it holds at most
// 128 buffers (4 MiB) for the whole process.
var dataPackets = make(chan []byte, 128)

// newPacketBuf returns a buffer of n bytes for a packet of type typ: a recycled one
// for a channel data packet that fits, a new one otherwise.
func newPacketBuf(typ byte, n int) []byte {
	if typ != msgChannelData || n > dataPacketCap {
		return make([]byte, n)
	}
	select {
	case b := <-dataPackets:
		return b[:n]
	default:
		return make([]byte, n, dataPacketCap)
	}
}

// recyclePacket offers b, from newPacketBuf and no longer used, for use again.
func recyclePacket(b []byte) {
	if cap(b) != dataPacketCap {
		return
	}
	select {
	case dataPackets <- b[:0]:
	default:
	}
}
