//go:build linux

package sendfile

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// sinkEnv names the address a re-executed test binary reads from as the benchmarks'
// receiver.
const sinkEnv = "FILEGATE_SENDFILE_SINK"

func TestMain(m *testing.M) {
	if addr := os.Getenv(sinkEnv); addr != "" {
		if err := sink(addr); err != nil {
			fmt.Fprintln(os.Stderr, "sink:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// sink reads from addr to EOF as curl does (blocking reads of 100 KiB in a process of
// its own), then writes one byte back: the sender's clock stops when every byte has
// arrived, not when the last one entered the socket buffer.
func sink(addr string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	f, err := c.(*net.TCPConn).File() // a blocking descriptor
	c.Close()
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 100<<10)
	for {
		n, err := syscall.Read(int(f.Fd()), buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			_, err = f.Write([]byte{1})
			return err
		}
	}
}

// BenchmarkToTCP sends a 256 MiB file in the page cache to a receiver in another
// process: ToTCP ("blocking") against Go's sendfile alone (TCPConn.ReadFrom, "go") and
// corked ("go-corked", as an HTTP download goes). Run them alternately (-test.bench
// 'ToTCP/blocking$', then 'ToTCP/go$', ...) and compare within one run: loopback
// throughput on a shared machine swings between runs.
func BenchmarkToTCP(b *testing.B) {
	const size = 256 << 20
	f, _ := randomFile(b, size)
	for _, v := range []struct {
		name string
		send func(*net.TCPConn, *os.File) (int64, error)
	}{
		{"blocking", func(c *net.TCPConn, f *os.File) (int64, error) { return ToTCP(c, f) }},
		{"go", func(c *net.TCPConn, f *os.File) (int64, error) { return c.ReadFrom(f) }},
		{"go-corked", func(c *net.TCPConn, f *os.File) (int64, error) {
			defer Cork(c)()
			return c.ReadFrom(f)
		}},
	} {
		b.Run(v.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				b.StopTimer()
				conn, wait := startSink(b)
				if _, err := f.Seek(0, io.SeekStart); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if n, err := v.send(conn, f); err != nil || n != size {
					b.Fatalf("sent %d bytes: %v", n, err)
				}
				conn.CloseWrite()
				if _, err := io.ReadFull(conn, make([]byte, 1)); err != nil {
					b.Fatal("no acknowledgement from the receiver:", err)
				}
				b.StopTimer()
				conn.Close()
				wait()
				b.StartTimer()
			}
		})
	}
}

// startSink starts the receiver process and returns the connection from it and a
// function that waits for it to exit.
func startSink(b *testing.B) (*net.TCPConn, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), sinkEnv+"="+ln.Addr().String())
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c, err := ln.Accept()
	if err != nil {
		cmd.Process.Kill()
		b.Fatal(err)
	}
	return c.(*net.TCPConn), func() {
		if err := cmd.Wait(); err != nil {
			b.Error("receiver:", err)
		}
	}
}
