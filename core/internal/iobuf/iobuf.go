// Package iobuf copies streams in large, full chunks. The front ends move file bodies
// between a network connection and storage; io.Copy's 32 KiB (and the short reads a
// connection or a multipart part returns) would cost a system call, a storage write and
// a hash update per few KiB.
package iobuf

import (
	"errors"
	"io"
	"sync"
)

// ChunkSize is the size of the chunks Copy moves.
const ChunkSize = 256 << 10

// Pool keeps buffers of one size for reuse.
type Pool struct {
	size int
	p    sync.Pool
}

// NewPool returns a pool of buffers of size bytes.
func NewPool(size int) *Pool {
	p := &Pool{size: size}
	p.p.New = func() any { b := make([]byte, size); return &b }
	return p
}

// Get returns a buffer of the pool's size.
func (p *Pool) Get() []byte { return *p.p.Get().(*[]byte) }

// Put returns b, which Get returned, to the pool; a buffer of another size is dropped.
func (p *Pool) Put(b []byte) {
	if cap(b) != p.size {
		return
	}
	b = b[:p.size]
	p.p.Put(&b)
}

var chunks = NewPool(ChunkSize)

// Get returns a ChunkSize buffer from the pool Copy uses.
func Get() []byte { return chunks.Get() }

// Put returns b, which Get returned, to the pool.
func Put(b []byte) { chunks.Put(b) }

// Copy copies src to dst until EOF, handing dst full ChunkSize chunks (the last one
// may be shorter). It returns the bytes written and the first error other than EOF.
func Copy(dst io.Writer, src io.Reader) (int64, error) {
	buf := Get()
	defer Put(buf)
	var n int64
	for {
		m, rerr := io.ReadFull(src, buf)
		if m > 0 {
			w, werr := dst.Write(buf[:m])
			n += int64(w)
			if werr != nil {
				return n, werr
			}
			if w < m {
				return n, io.ErrShortWrite
			}
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}
