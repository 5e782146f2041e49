package iobuf

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// recorder remembers the size of every write.
type recorder struct {
	bytes.Buffer
	sizes []int
}

func (r *recorder) Write(p []byte) (int, error) {
	r.sizes = append(r.sizes, len(p))
	return r.Buffer.Write(p)
}

func TestCopyWritesFullChunks(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), ChunkSize/4) // 2.5 chunks
	var dst recorder
	n, err := Copy(&dst, iotest.OneByteReader(bytes.NewReader(data)))
	if err != nil || n != int64(len(data)) || !bytes.Equal(dst.Bytes(), data) {
		t.Fatalf("Copy = %d, %v", n, err)
	}
	if len(dst.sizes) != 3 || dst.sizes[0] != ChunkSize || dst.sizes[1] != ChunkSize {
		t.Fatalf("write sizes %v: want two full chunks and the rest", dst.sizes)
	}
}

func TestCopyErrors(t *testing.T) {
	boom := errors.New("boom")
	if _, err := Copy(io.Discard, iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Fatalf("read error: %v", err)
	}
	if n, err := Copy(failWriter{boom}, bytes.NewReader([]byte("abc"))); !errors.Is(err, boom) || n != 0 {
		t.Fatalf("write error: %d %v", n, err)
	}
	if n, err := Copy(io.Discard, bytes.NewReader(nil)); n != 0 || err != nil {
		t.Fatalf("empty: %d %v", n, err)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

func TestPool(t *testing.T) {
	p := NewPool(1000)
	b := p.Get()
	if len(b) != 1000 || cap(b) != 1000 {
		t.Fatalf("Get: len %d cap %d, want 1000", len(b), cap(b))
	}
	p.Put(b[:10]) // a resliced buffer comes back whole
	p.Put(make([]byte, 999))
	for range 100 { // whatever the pool keeps, every buffer has its size
		if b := p.Get(); len(b) != 1000 {
			t.Fatalf("Get after Put: len %d, want 1000", len(b))
		}
	}
}
