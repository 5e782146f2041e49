// Package conntrack remembers the connections a listener accepted, so that a server
// can close them all when it stops.
package conntrack

import (
	"net"
	"sync"
)

// Listener is a net.Listener that tracks the connections it accepted until they are
// closed.
type Listener struct {
	net.Listener
	// OnAccept, when not nil, is called for each accepted connection before Accept
	// returns it.
	OnAccept func()

	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool
}

// New wraps ln.
func New(ln net.Listener) *Listener {
	return &Listener{Listener: ln, conns: map[*conn]struct{}{}}
}

// Accept waits for the next connection. After CloseAll, a connection accepted in
// the meantime is returned already closed.
func (l *Listener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c := &conn{Conn: nc, l: l}
	l.mu.Lock()
	if l.closed {
		nc.Close()
	} else {
		l.conns[c] = struct{}{}
	}
	l.mu.Unlock()
	if l.OnAccept != nil {
		l.OnAccept()
	}
	return c, nil
}

// CloseAll closes the listener and every connection still open.
func (l *Listener) CloseAll() {
	l.Listener.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for c := range l.conns {
		c.Conn.Close()
	}
}

// conn forgets itself when closed.
type conn struct {
	net.Conn
	l *Listener
}

// Close closes the connection.
func (c *conn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}
