package sftpd

import (
	"io"
	"sync/atomic"

	"github.com/filegate/filegate/core/internal/iobuf"
)

// readAhead reads src in large reads while it is busy. Both readers of an SFTP
// connection take small bites: pkg/sftp reads each request with two reads of the SSH
// channel (its length, then the rest), and x/crypto answers each read of a busy channel
// with a window adjustment, an SSH packet of its own: during an upload that was two
// socket writes per 32 KiB request besides the reply. x/crypto in turn reads the socket
// a packet at a time (its length, then the rest): two system calls per 32 KiB. Reading
// up to iobuf.ChunkSize at once makes it one window adjustment, and one system call,
// per chunk.
//
// A chunk is held only while it has unread bytes: the read that waits for the client
// (the first after a chunk is used up) goes straight to src, so an idle connection
// holds no buffer. readAhead is read by one goroutine at a time.
type readAhead struct {
	src    io.Reader
	buf    []byte // the chunk, from iobuf; nil when none is held
	unread []byte // buf's bytes not yet read
	err    error  // the channel's error, returned after unread
	busy   bool   // the last read returned bytes: more are likely waiting

	// queued is true while unread is not empty: more requests are there to be served,
	// whose replies will follow (read by other goroutines).
	queued atomic.Bool
	// beforeSrc, when set, is called before each read of src, which may wait for the
	// client: what is held for it must go out first.
	beforeSrc func()
}

// Read reads from the chunk, or from the channel.
func (r *readAhead) Read(p []byte) (int, error) {
	if len(r.unread) > 0 {
		n := copy(p, r.unread)
		r.unread = r.unread[n:]
		if len(r.unread) == 0 {
			r.release()
		}
		return n, nil
	}
	if r.err != nil {
		return 0, r.err
	}
	if r.beforeSrc != nil {
		r.beforeSrc()
	}
	if !r.busy || len(p) >= iobuf.ChunkSize {
		n, err := r.src.Read(p)
		r.busy = n > 0 && err == nil
		return n, err
	}
	r.busy = false
	r.buf = iobuf.Get()
	n, err := r.src.Read(r.buf)
	k := copy(p, r.buf[:n])
	r.unread = r.buf[k:n]
	if len(r.unread) == 0 {
		r.release()
		return k, err
	}
	r.queued.Store(true)
	r.err = err
	return k, nil
}

// release returns the chunk.
func (r *readAhead) release() {
	r.queued.Store(false)
	iobuf.Put(r.buf)
	r.buf, r.unread = nil, nil
}

// channelReadAhead is an SSH channel read through a readAhead.
type channelReadAhead struct {
	io.ReadWriteCloser
	in *readAhead
}

func (c channelReadAhead) Read(p []byte) (int, error) { return c.in.Read(p) }
