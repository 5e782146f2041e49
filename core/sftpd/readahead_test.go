package sftpd

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// chunkedReader returns what is asked of its chunks (all have arrived, as an SSH
// channel returns all it has buffered), then err.
type chunkedReader struct {
	chunks [][]byte
	err    error
	reads  int
}

func (r *chunkedReader) Read(p []byte) (int, error) {
	r.reads++
	if len(r.chunks) == 0 {
		return 0, r.err
	}
	n := 0
	for n < len(p) && len(r.chunks) > 0 {
		k := copy(p[n:], r.chunks[0])
		n += k
		if r.chunks[0] = r.chunks[0][k:]; len(r.chunks[0]) == 0 {
			r.chunks = r.chunks[1:]
		}
	}
	return n, nil
}

// TestReadAheadKeepsBytes reads SFTP-like framing (4 bytes, then a body) through a
// readAhead and checks every byte, and the source's error after the last.
func TestReadAheadKeepsBytes(t *testing.T) {
	var want []byte
	var chunks [][]byte
	for i := range 50 {
		c := bytes.Repeat([]byte{byte(i)}, 1000+i*997)
		want = append(want, c...)
		chunks = append(chunks, c)
	}
	boom := errors.New("boom")
	src := &chunkedReader{chunks: chunks, err: boom}
	r := &readAhead{src: src}
	var got []byte
	buf := make([]byte, 33000)
	reads := 0
	for i := 0; ; i++ {
		reads++
		size := 4
		if i%2 == 1 {
			size = len(buf)
		}
		n, err := r.Read(buf[:size])
		got = append(got, buf[:n]...)
		if err != nil {
			if !errors.Is(err, boom) {
				t.Fatalf("error %v, want boom", err)
			}
			break
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, want %d, or bytes differ", len(got), len(want))
	}
	if src.reads*4 > reads {
		t.Errorf("%d reads of the source for %d reads: no read-ahead", src.reads, reads)
	}
	if r.buf != nil {
		t.Error("a buffer is held after the last byte was read")
	}
}

// TestReadAheadIdleHoldsNoBuffer: after its bytes are read, a readAhead holds no
// buffer, and the next read (the one that waits for the client) goes to the source.
func TestReadAheadIdleHoldsNoBuffer(t *testing.T) {
	src := &chunkedReader{chunks: [][]byte{[]byte("0123456789")}, err: io.EOF}
	r := &readAhead{src: src}
	p := make([]byte, 4)
	for _, want := range []string{"0123", "4567", "89"} {
		n, err := r.Read(p)
		if err != nil || string(p[:n]) != want {
			t.Fatalf("Read = %q, %v; want %q", p[:n], err, want)
		}
	}
	if r.buf != nil {
		t.Fatal("buffer held with nothing unread")
	}
	if err := iotest.TestReader(&readAhead{src: bytes.NewReader(bytes.Repeat([]byte("ab"), 300_000))}, bytes.Repeat([]byte("ab"), 300_000)); err != nil {
		t.Fatal(err)
	}
}
