//go:build linux

package sendfile

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pair returns both ends of a loopback TCP connection, closed when the test ends.
func pair(t testing.TB) (server, client *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return s.(*net.TCPConn), c.(*net.TCPConn)
}

// randomFile writes size random bytes to a new file and returns it open for reading,
// closed when the test ends.
func randomFile(t testing.TB, size int) (*os.File, []byte) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, data
}

// readAll reads c to EOF in the background.
func readAll(c net.Conn) <-chan []byte {
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(c)
		got <- b
	}()
	return got
}

// checkRestored fails unless c's descriptor is non-blocking again with no send
// timeout, as Go's network poller needs it, and uncorked.
func checkRestored(t *testing.T, c *net.TCPConn) {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var flags int
	var tv *unix.Timeval
	var ferr, terr error
	raw.Control(func(fd uintptr) {
		flags, ferr = unix.FcntlInt(fd, unix.F_GETFL, 0)
		tv, terr = unix.GetsockoptTimeval(int(fd), unix.SOL_SOCKET, unix.SO_SNDTIMEO)
	})
	if ferr != nil || terr != nil {
		t.Fatal(ferr, terr)
	}
	if flags&unix.O_NONBLOCK == 0 {
		t.Error("the connection was left in blocking mode")
	}
	if tv.Sec != 0 || tv.Usec != 0 {
		t.Errorf("the connection was left with a send timeout of %v", tv)
	}
	if corked(t, c) {
		t.Error("the connection was left corked")
	}
}

func TestToTCP(t *testing.T) {
	// Around the first call's size, and far past it (later calls are sized by the pace).
	for _, size := range []int{0, 1, firstChunk - 1, firstChunk, firstChunk + 1, 2*firstChunk + 12345, 48<<20 + 3} {
		for _, offset := range []int{0, 4097} {
			if offset > size {
				continue
			}
			f, data := randomFile(t, size)
			if _, err := f.Seek(int64(offset), io.SeekStart); err != nil {
				t.Fatal(err)
			}
			server, client := pair(t)
			got := readAll(client)
			n, err := ToTCP(server, f)
			if err != nil {
				t.Fatalf("size %d offset %d: %v", size, offset, err)
			}
			checkRestored(t, server)
			server.CloseWrite()
			if n != int64(size-offset) {
				t.Errorf("size %d offset %d: sent %d bytes", size, offset, n)
			}
			if b := <-got; !bytes.Equal(b, data[offset:]) {
				t.Errorf("size %d offset %d: received %d bytes, not the file's", size, offset, len(b))
			}
			if len(slots) != 0 {
				t.Fatalf("%d slots still taken", len(slots))
			}
		}
	}
}

// corked says whether c's TCP_CORK is set.
func corked(t *testing.T, c *net.TCPConn) bool {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	raw.Control(func(fd uintptr) { v, err = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_CORK) })
	if err != nil {
		t.Fatal(err)
	}
	return v != 0
}

func TestCork(t *testing.T) {
	server, client := pair(t)
	got := readAll(client)
	uncork := Cork(server)
	if !corked(t, server) {
		t.Fatal("Cork did not cork the connection")
	}
	if _, err := server.Write([]byte("held")); err != nil {
		t.Fatal(err)
	}
	uncork()
	if corked(t, server) {
		t.Fatal("uncork left the connection corked")
	}
	server.CloseWrite()
	if b := <-got; string(b) != "held" {
		t.Errorf("received %q, want %q", b, "held")
	}
	// A connection that cannot be corked any more is left alone.
	server.Close()
	Cork(server)()
}

func TestNextChunk(t *testing.T) {
	for _, tc := range []struct {
		n    int
		d    time.Duration
		want int
	}{
		{firstChunk, 2 * time.Millisecond, 50 * firstChunk}, // 2 GiB/s: 100 ms worth
		{firstChunk, 800 * time.Millisecond, 512 << 10},     // 5 MiB/s: 100 ms worth
		{firstChunk, 10 * time.Second, minChunk},            // slower: bounded below
		{200 << 20, 10 * time.Millisecond, maxChunk},        // very fast: bounded
		{firstChunk, 0, maxChunk},                           // no measurable time
		{200 << 20, 100 * time.Millisecond, 200 << 20},      // on pace: the same again
	} {
		if got := nextChunk(tc.n, tc.d); got != tc.want {
			t.Errorf("nextChunk(%d, %v) = %d, want %d", tc.n, tc.d, got, tc.want)
		}
	}
}

// A receiver that stops reading ends blocking sending; Go's sendfile sends the rest
// from where it stopped.
func TestStalledReceiver(t *testing.T) {
	f, data := randomFile(t, 16*firstChunk)
	server, client := pair(t)
	got := make(chan []byte, 1)
	go func() {
		first := make([]byte, 1)
		io.ReadFull(client, first)
		time.Sleep(4 * stall)
		rest, _ := io.ReadAll(client)
		got <- append(first, rest...)
	}()
	sent, done := blocking(server, f)
	if done || sent >= int64(len(data)) {
		t.Fatalf("blocking sent %d bytes of %d (done %v) to a receiver that stalled", sent, len(data), done)
	}
	checkRestored(t, server)
	n, err := ToTCP(server, f) // the rest, from the file's offset
	if err != nil {
		t.Fatal(err)
	}
	server.CloseWrite()
	if sent+n != int64(len(data)) {
		t.Errorf("sent %d + %d bytes of %d", sent, n, len(data))
	}
	if b := <-got; !bytes.Equal(b, data) {
		t.Errorf("received %d bytes, not the file's", len(b))
	}
}

// With every slot taken, or a source that is no file, Go's path sends it all.
func TestFallback(t *testing.T) {
	for name, taken := range map[string]int{"no free slot": cap(slots), "not a file": 0} {
		t.Run(name, func(t *testing.T) {
			for range taken - len(slots) { // a bug that keeps slots must not hang the test
				slots <- struct{}{}
				defer func() { <-slots }()
			}
			f, data := randomFile(t, firstChunk+7)
			var src io.Reader = f
			if taken == 0 {
				src = bytes.NewReader(data)
			}
			server, client := pair(t)
			got := readAll(client)
			if sent, done := blocking(server, src); sent != 0 || done {
				t.Fatalf("blocking sent %d bytes (done %v)", sent, done)
			}
			n, err := ToTCP(server, src)
			server.CloseWrite()
			if err != nil || n != int64(len(data)) {
				t.Fatalf("sent %d bytes of %d: %v", n, len(data), err)
			}
			if b := <-got; !bytes.Equal(b, data) {
				t.Errorf("received %d bytes, not the file's", len(b))
			}
		})
	}
}

// A receiver that goes away, or a Close of the connection while the receiver reads
// nothing, ends the transfer with an error: nothing hangs and the slot is returned.
func TestInterrupted(t *testing.T) {
	for _, how := range []string{"receiver closes", "sender closes"} {
		t.Run(how, func(t *testing.T) {
			f, _ := randomFile(t, 64<<20)
			server, client := pair(t)
			result := make(chan error, 1)
			go func() {
				_, err := ToTCP(server, f)
				result <- err
			}()
			time.Sleep(2 * stall) // the socket's buffers fill: the sender waits for the receiver
			if how == "receiver closes" {
				client.Close()
			} else {
				go server.Close() // it waits for a blocking call to end, which the select bounds
			}
			select {
			case err := <-result:
				if err == nil {
					t.Fatal("ToTCP reported no error")
				}
				if how == "sender closes" && !errors.Is(err, net.ErrClosed) {
					t.Errorf("err = %v, want net.ErrClosed", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("ToTCP still running 30 s after the connection ended")
			}
			if len(slots) != 0 {
				t.Errorf("%d slots still taken", len(slots))
			}
		})
	}
}
