package objstore

import "sync"

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

// get returns a buffer of length and capacity p.size.
func (p *partBuffers) get() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, list := range []*[][]byte{&p.idle, &p.released} {
		if n := len(*list); n > 0 {
			b := (*list)[n-1]
			*list = (*list)[:n-1]
			return b
		}
	}
	return mapPart(p.size)
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
		p.released = append(p.released, b)
	}
}
