//go:build linux

package sendfile

import (
	"io"
	"net"
	"runtime"
	"syscall"
	"time"
)

const (
	// firstChunk is what the first blocking call sends at most; later calls are
	// sized by the receiver's pace, within [minChunk, maxChunk].
	firstChunk = 4 << 20
	minChunk   = 256 << 10
	// maxChunk bounds one call however fast the receiver.
	maxChunk = 1 << 30
	// callTime is how long a blocking call aims to last. Between calls ToTCP lets go
	// of the descriptor, so a concurrent Close waits about this long at most. Longer
	// calls are cheaper: every return from one wakes Go's scheduler monitor (sysmon),
	// which then polls every 20 us for a while, each time taking the sender's CPU;
	// with 4 MiB calls that cost 10-15 % of an FTP download's speed (bench/README.md).
	callTime = 100 * time.Millisecond
	// stall is the socket's send timeout during blocking calls: a receiver that
	// takes no bytes for this long ends blocking sending.
	stall = 50 * time.Millisecond
)

// slots holds one token per thread blocked in sendfile.
var slots = make(chan struct{}, runtime.GOMAXPROCS(0))

// blocking sends src over dst with blocking sendfile calls while every call sends a
// whole chunk. It returns the bytes sent and whether that reached the end of src.
// Anything unusual (no slot, no descriptor, an error, a short call: the receiver
// stalled, a signal, or the end of the file) stops it, and Go's sendfile takes over
// from the file's offset, reporting errors its own way.
func blocking(dst *net.TCPConn, src io.Reader) (sent int64, done bool) {
	sc, ok := src.(syscall.Conn)
	if !ok {
		return 0, false
	}
	select {
	case slots <- struct{}{}:
	default:
		return 0, false
	}
	defer func() { <-slots }()
	file, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	conn, err := dst.SyscallConn()
	if err != nil || setSendTimeout(conn, stall) != nil {
		return 0, false
	}
	defer setSendTimeout(conn, 0)
	for chunk := firstChunk; ; {
		start := time.Now()
		n, err := sendChunk(conn, file, chunk)
		sent += int64(n)
		switch {
		case err != nil:
			return sent, false
		case n == 0:
			return sent, true
		case n < chunk:
			return sent, false
		}
		chunk = nextChunk(n, time.Since(start))
	}
}

// nextChunk sizes the call after one that sent n bytes in d: what the receiver takes
// in callTime at that pace, within [minChunk, maxChunk].
func nextChunk(n int, d time.Duration) int {
	if d <= 0 {
		return maxChunk
	}
	c := float64(n) * float64(callTime) / float64(d)
	return int(min(max(c, minChunk), maxChunk))
}

// sendChunk makes one blocking sendfile call of at most chunk bytes from the file's
// offset, with the connection's descriptor in blocking mode only for that call.
func sendChunk(conn, file syscall.RawConn, chunk int) (int, error) {
	var n int
	var err error
	cerr := conn.Control(func(out uintptr) {
		ferr := file.Control(func(in uintptr) {
			if err = syscall.SetNonblock(int(out), false); err != nil {
				return
			}
			n, err = syscall.Sendfile(int(out), int(in), nil, chunk)
			if rerr := syscall.SetNonblock(int(out), true); err == nil {
				err = rerr
			}
		})
		if err == nil {
			err = ferr
		}
	})
	if err == nil {
		err = cerr
	}
	return max(n, 0), err
}

// setSendTimeout sets the socket's SO_SNDTIMEO (0: none).
func setSendTimeout(conn syscall.RawConn, d time.Duration) error {
	tv := syscall.NsecToTimeval(d.Nanoseconds())
	var err error
	cerr := conn.Control(func(fd uintptr) {
		err = syscall.SetsockoptTimeval(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv)
	})
	if err == nil {
		err = cerr
	}
	return err
}

// setCork sets or clears the socket's TCP_CORK.
func setCork(conn syscall.RawConn, on bool) error {
	v := 0
	if on {
		v = 1
	}
	var err error
	cerr := conn.Control(func(fd uintptr) {
		err = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CORK, v)
	})
	if err == nil {
		err = cerr
	}
	return err
}
