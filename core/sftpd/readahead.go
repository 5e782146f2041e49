package sftpd

import (
	"io"

	"github.com/filegate/filegate/core/internal/iobuf"
)

// readAhead reads src in large reads while it is busy. x/crypto reads the socket a
// packet at a time (its length, then the rest): two system calls per 32 KiB packet of
// an upload. Reading up to iobuf.ChunkSize at once makes it one per chunk.
//
// A chunk is held only while it has unread bytes: the read that waits for the client
// (the first after a chunk is used up) goes straight to src, so an idle connection
// holds no buffer. readAhead is read by one goroutine at a time.
type readAhead struct {
	src    io.Reader
	buf    []byte // the chunk, from iobuf; nil when none is held
	unread []byte // buf's bytes not yet read
	err    error  // src's error, returned after unread
	busy   bool   // the last read returned bytes: more are likely waiting
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
	r.err = err
	return k, nil
}

// release returns the chunk.
func (r *readAhead) release() {
	iobuf.Put(r.buf)
	r.buf, r.unread = nil, nil
}
