// Package sendfile sends a local file over a TCP connection with the thread blocked in
// the kernel while the socket drains, as the C servers do.
//
// Go's own sendfile (net.TCPConn.ReadFrom) runs on a non-blocking socket: each time
// the socket buffer fills, the goroutine parks in the network poller, and the socket
// becoming writable wakes the poller's thread, which hands the goroutine to a thread
// to run it. In Filegate's server that round trip, thousands of times per GiB, cost
// 1-17 % of an FTP download's speed to curl against blocking calls (bench/README.md).
// A blocking call costs a thread for as long as it lasts, so ToTCP holds at most
// GOMAXPROCS of them and leaves a slow or stalled receiver to Go's sendfile, which
// holds none and honours deadlines.
package sendfile

import (
	"io"
	"net"
)

// ToTCP sends src from its current offset to its end over dst and returns the bytes
// sent. When src is a local file (an *os.File, or anything whose SyscallConn reaches a
// regular file's descriptor), the connection is plain TCP and a blocking slot is free,
// the bytes go with blocking sendfile calls while the receiver keeps up; the rest, if
// any, goes through dst.ReadFrom (Go's sendfile), as does everything else.
//
// During a blocking call the connection's descriptor is in blocking mode and a Close of
// dst from another goroutine waits for that call to end: calls are sized to last about
// 100 ms at the receiver's pace (4 MiB the first, 256 KiB at least), and a receiver
// that takes nothing for 50 ms ends one. No other goroutine may read or write dst
// meanwhile. The connection is corked until ToTCP returns (see Cork).
func ToTCP(dst *net.TCPConn, src io.Reader) (int64, error) {
	defer Cork(dst)()
	n, done := blocking(dst, src)
	if done {
		return n, nil
	}
	m, err := dst.ReadFrom(src)
	return n + m, err
}

// Cork makes dst hold back a partly filled segment until it fills or the connection is
// uncorked (TCP_CORK, what nginx's tcp_nopush sets around its sendfile calls), and
// returns the function that uncorks it, which sends what is held at once. Sending a
// file corked, every segment is full: on loopback an HTTP download ran 0.70-0.82 of
// nginx's speed uncorked and 1.00 corked, in the same rounds (bench/README.md). A
// connection that cannot be corked sends as before.
func Cork(dst *net.TCPConn) (uncork func()) {
	raw, err := dst.SyscallConn()
	if err != nil || setCork(raw, true) != nil {
		return func() {}
	}
	return func() { setCork(raw, false) }
}
