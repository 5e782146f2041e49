package sftpd

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Socket writes of a download. x/crypto/ssh writes every SSH packet to the connection
// with its own write, and an AES-GCM packet larger than 4 KiB with two (its 4 KiB
// bufio.Writer sends the length prefix with the start of the packet, then the rest).
// pkg/sftp sends a READ reply as two channel writes, its 13-byte header then the data,
// so two SSH packets. That is three system calls per 32 KiB read with AES-GCM, two
// with ChaCha20. Only the SFTP layer knows that a message is unfinished: while one is
// (between the header and the data of a reply), the connection holds small writes
// back and sends them together with the next large one, in one system call. The large
// write is copied behind them (a 32 KiB copy costs less than a system call; writev
// through net.Buffers would need the *net.TCPConn, which conntrack's wrapper hides).
const (
	// sendAtOnce is the size from which a write is sent at once while corked, with
	// the held bytes in front of it; smaller ones are held.
	sendAtOnce = 16 << 10
	// maxHold bounds how long a held byte waits when the rest of its SFTP message is
	// slow to come (x/crypto waiting for the client's window, or a key exchange, whose
	// own packets would otherwise be held behind the data waiting for it).
	maxHold = time.Millisecond
	// lingerBatch is how many bytes of whole READ replies are held while the server
	// owes more replies: those follow in microseconds, and several go out in one system
	// call (a 1 GiB download: socket writes per MiB 32 -> 10.5, server CPU -4 to -6 %
	// with AES-GCM; see BenchmarkOpenSSHTransfer's cork16k variant). Well under the
	// channel window of OpenSSH's client (2 MiB) and of other common ones (1-2 MiB).
	lingerBatch = 128 << 10
	// lateBatches is how many batches in a row the timer must send before batching
	// stops on a connection (see corkConn.expire). One was too few: on a busy VM a
	// reply now and then comes over 1 ms late, and one late reply ended batching on
	// most 64 MiB downloads of BenchmarkOpenSSHTransfer (socket writes per MiB 23-29
	// instead of 9, server CPU up to +20 %).
	lateBatches = 4
)

// corkConn is a connection whose small writes are held while it is corked (an SFTP
// message is unfinished, see sftpChannel), and writes up to batch bytes in all while
// it is lingering (more replies will follow, see sftpChannel.lingers); they are sent
// with the write that reaches the limit, when neither holds any more, or after
// maxHold, whichever comes first. Otherwise, and with nothing held, a write goes
// straight through.
type corkConn struct {
	net.Conn
	in *readAhead // reads Conn

	mu        sync.Mutex
	corked    bool
	lingering bool
	held      []byte        // bytes accepted while corked and not sent yet
	hold      time.Duration // how long a held byte may wait: maxHold
	batch     atomic.Int64  // the most bytes held while lingering: lingerBatch; read by sftpChannel
	late      int           // batches in a row the timer sent
	timer     *time.Timer   // sends the held bytes after hold; armed while held is not empty
	err       error         // the error of a failed write of held bytes, returned from then on
}

// newCorkConn wraps nc.
func newCorkConn(nc net.Conn) *corkConn {
	c := &corkConn{Conn: nc, hold: maxHold}
	c.batch.Store(lingerBatch)
	c.in = &readAhead{src: nc}
	c.timer = time.AfterFunc(time.Hour, c.expire)
	c.timer.Stop()
	return c
}

// Write sends p, or holds it while corked if it is small.
func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	holding := c.corked || c.lingering
	limit := sendAtOnce
	if c.lingering {
		limit = int(c.batch.Load())
	}
	if len(c.held) == 0 && (!holding || len(p) >= limit) {
		return c.Conn.Write(p)
	}
	if len(c.held) == 0 {
		c.timer.Reset(c.hold)
	}
	c.held = append(c.held, p...)
	if holding && len(c.held) < limit {
		return len(p), nil
	}
	if err := c.flush(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Read reads from the connection in large reads (see readAhead).
func (c *corkConn) Read(p []byte) (int, error) { return c.in.Read(p) }

// cork starts holding small writes until finish.
func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// linger starts holding small writes until finish(false).
func (c *corkConn) linger() {
	c.mu.Lock()
	c.lingering = true
	c.mu.Unlock()
}

// finish ends a cork and, unless linger, a lingering: what is held no longer needs to
// wait is sent.
func (c *corkConn) finish(linger bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked, c.lingering = false, c.lingering && linger
	if len(c.held) == 0 || c.lingering {
		return nil
	}
	return c.flush()
}

// expire sends the bytes held for c.hold. When they were a batch of whole replies the
// next reply did not come in time: a slow storage, a busy machine, or a client whose
// window is smaller than a batch (x/crypto waits for the client's window adjustment,
// which waits for the held bytes). With such a client every batch would wait for the
// timer: after lateBatches in a row batching stops on the connection.
func (c *corkConn) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.held) == 0 || c.err != nil {
		return
	}
	late := 0
	if c.lingering && len(c.held) >= sendAtOnce {
		if late = c.late + 1; late >= lateBatches {
			c.batch.Store(sendAtOnce)
		}
	}
	c.flush()
	c.late = late
}

// flush sends the held bytes in one write; c.mu is held.
func (c *corkConn) flush() error {
	c.timer.Stop()
	c.late = 0 // sent before the timer; expire counts its own
	_, err := c.Conn.Write(c.held)
	c.held = c.held[:0]
	if err != nil {
		c.err = err
	}
	return err
}

// Close closes the connection. Bytes still held are dropped: they can only be the
// start of an SFTP message that was never finished.
func (c *corkConn) Close() error {
	c.mu.Lock()
	c.timer.Stop()
	c.held = nil
	c.mu.Unlock()
	return c.Conn.Close()
}

// sftpChannel is the SSH channel pkg/sftp writes its replies to. It follows the SFTP
// framing (a 4-byte length, then that many bytes) of what is read and written, to know
// which replies are owed (see lingers), and keeps conn corked while a message is
// unfinished (pkg/sftp writes a message's header and its data back to back, under its
// connection lock, so the rest always follows at once) and while a write that x/crypto
// splits is sent (see splitFrom).
type sftpChannel struct {
	io.ReadWriteCloser
	conn    *corkConn
	replies framing // of what is written
	asked   framing // of what is read: the requests
	// pending is the number of requests read and not answered yet: while it is above
	// zero, more replies will follow.
	pending atomic.Int64
}

// Read reads requests from the channel.
func (c *sftpChannel) Read(p []byte) (int, error) {
	n, err := c.ReadWriteCloser.Read(p)
	c.pending.Add(int64(c.asked.follow(p[:n])))
	return n, err
}

// framing follows the SFTP framing of a stream: a 4-byte length, then that many bytes.
type framing struct {
	rest   uint64  // bytes of the current message not yet seen
	length [4]byte // the length of the next message, as far as it was seen
	nlen   int     // bytes of length seen
}

// unfinished reports whether a message was started and not finished.
func (f *framing) unfinished() bool { return f.rest > 0 || f.nlen > 0 }

// splitFrom is the size from which x/crypto sends one channel write in several socket
// writes: its 4 KiB bufio.Writer sends an AES-GCM packet's start apart from the rest,
// and a write longer than the client's packet limit (32 KiB for OpenSSH) becomes
// several SSH packets. pkg/sftp writes a whole READ reply (13-byte header and 32 KiB
// of data) at once: three socket writes uncorked, one corked (see writeShortFirst).
const splitFrom = 4 << 10

// Write writes p to the channel.
func (c *sftpChannel) Write(p []byte) (int, error) {
	owed := c.pending.Add(-int64(c.replies.follow(p)))
	unfinished := c.replies.unfinished()
	linger := !unfinished && c.lingers(len(p), owed)
	if unfinished || len(p) > splitFrom {
		c.conn.cork()
	}
	if linger {
		c.conn.linger()
	}
	n, err := c.writeShortFirst(p)
	if err != nil || !unfinished {
		if ferr := c.conn.finish(linger && err == nil); err == nil {
			err = ferr
		}
	}
	return n, err
}

// lingers reports whether a whole reply of n bytes should wait for the next ones, with
// owed replies still to be written: those the server's workers are producing without
// waiting for the client. Held replies go out in one system call once they reach
// conn.batch bytes, when none is owed, or after maxHold: a download's READ data
// several at a time, an upload's STATUS replies (one per 32 KiB WRITE) by the dozen.
// (Uploads of 1 GiB: socket writes per MiB 32 -> 13 with aes128-gcm, server CPU -9 %
// with chacha20; 2.6-3.6 once x/crypto's window adjustments came per 256 KiB; see
// BenchmarkOpenSSHTransfer.)
func (c *sftpChannel) lingers(n int, owed int64) bool {
	return owed > 0 && int64(n) < c.conn.batch.Load()
}

// channelPacket is the most channel data OpenSSH's client takes in one SSH packet.
const channelPacket = 32 << 10

// writeShortFirst writes p to the channel in two writes when it is longer than a
// channelPacket: the len(p) % channelPacket bytes at its start, then the rest. x/crypto
// cuts each write into channelPacket-sized SSH packets from its start, so a READ reply
// of 13 + 32,768 bytes written at once would end in a 13-byte packet, sent on its own
// at finish; cut this way the short packet comes first, is held, and goes out with the
// large one.
func (c *sftpChannel) writeShortFirst(p []byte) (int, error) {
	head := len(p) % channelPacket
	if len(p) <= channelPacket || head == 0 {
		return c.ReadWriteCloser.Write(p)
	}
	n, err := c.ReadWriteCloser.Write(p[:head])
	if err != nil {
		return n, err
	}
	m, err := c.ReadWriteCloser.Write(p[head:])
	return n + m, err
}

// follow moves the framing past p and returns the number of messages started in it.
func (f *framing) follow(p []byte) (started int) {
	for len(p) > 0 {
		if f.rest == 0 {
			k := copy(f.length[f.nlen:], p)
			f.nlen += k
			p = p[k:]
			if f.nlen == len(f.length) {
				f.rest = uint64(binary.BigEndian.Uint32(f.length[:]))
				f.nlen = 0
				started++
			}
			continue
		}
		k := min(f.rest, uint64(len(p)))
		f.rest -= k
		p = p[k:]
	}
	return started
}
