package objstore

import (
	"sync"
	"sync/atomic"
)

// partBuffers hands out the buffers uploads fill with parts, all of one size.
//
// They live outside the Go heap where the system allows it (see mapPart): the
// collector lets the heap grow to twice what is live before it collects (GOGC=100),
// and parts waiting in memory would be most of what is live, so on the heap they
// would count twice in the gateway's memory. Buffers are reused through a free list;
// past keep idle ones, their memory goes back to the system but their mapping stays,
// because an HTTP transport may still read a request's body after the request
// returned (it then reads zeros, not freed memory).
type partBuffers struct {
	size int
	keep int // idle buffers kept resident

	mu       sync.Mutex
	idle     [][]byte // resident, ready for use
	released [][]byte // mapped, their memory given back
}

// residentParts counts the bytes of part buffers outside the Go heap that are resident:
// in use, or idle and kept.
var residentParts atomic.Int64

// PartMemory reports how many bytes of part buffers, across every Store, are held
// outside the Go heap (in use by uploads or kept idle for reuse). With the heap in
// use, it is the memory uploads hold.
func PartMemory() int64 { return residentParts.Load() }

// get returns a buffer of length and capacity p.size.
func (p *partBuffers) get() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.idle); n > 0 {
		b := p.idle[n-1]
		p.idle = p.idle[:n-1]
		return b
	}
	if n := len(p.released); n > 0 {
		b := p.released[n-1]
		p.released = p.released[:n-1]
		residentParts.Add(int64(len(b)))
		return b
	}
	b, mapped := mapPart(p.size)
	if mapped {
		residentParts.Add(int64(len(b)))
	}
	return b
}

// put returns a buffer from get.
func (p *partBuffers) put(b []byte) {
	b = b[:cap(b)]
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) < p.keep {
		p.idle = append(p.idle, b)
		return
	}
	if releasePart(b) {
		residentParts.Add(-int64(len(b)))
		p.released = append(p.released, b)
	}
}
