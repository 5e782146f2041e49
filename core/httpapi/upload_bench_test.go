package httpapi

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"testing"

	"github.com/filegate/filegate/core/internal/cputime"
	"github.com/filegate/filegate/core/internal/iobuf"
	"github.com/filegate/filegate/core/vfs"
	"github.com/filegate/filegate/plugins/storage/local"
)

// bodyReader is how the upload handler read a streamed body before partReader: a
// large buffer between fasthttp's request stream and mime/multipart, which reads 4 KiB
// at a time. Kept as a baseline of BenchmarkMultipartBody.
func bodyReader(r io.Reader) io.Reader {
	return bufio.NewReaderSize(r, iobuf.ChunkSize)
}

// BenchmarkMultipartBody reads a 64 MiB file part from a loopback TCP connection the
// way the upload handler does, through a 16 KiB buffered reader as fasthttp's request
// stream: "direct" hands that stream to multipart.Reader (4 KiB reads: one receive per
// 16 KiB), "buffered" puts bodyReader in between (one receive per 256 KiB), and
// "partReader" reads it with partReader, whose WriteTo passes the data on straight
// from its 256 KiB buffer.
func BenchmarkMultipartBody(b *testing.B) {
	const size = 64 << 20
	const boundary = "bench-boundary-1234567890"
	viaMultipart := func(wrap func(io.Reader) io.Reader) func(io.Reader) (int64, error) {
		return func(r io.Reader) (int64, error) {
			mr := multipart.NewReader(wrap(r), boundary)
			part, err := mr.NextPart()
			if err != nil {
				return 0, err
			}
			return iobuf.Copy(io.Discard, part)
		}
	}
	for _, v := range []struct {
		name string
		read func(io.Reader) (int64, error)
	}{
		{"direct", viaMultipart(func(r io.Reader) io.Reader { return r })},
		{"buffered", viaMultipart(bodyReader)},
		{"partReader", func(r io.Reader) (int64, error) {
			pr, err := newPartReader(r, boundary)
			if err != nil {
				return 0, err
			}
			defer pr.release()
			part, err := pr.NextPart()
			if err != nil {
				return 0, err
			}
			return part.WriteTo(io.Discard)
		}},
	} {
		b.Run(v.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				c := multipartConn(b, boundary, size)
				n, err := v.read(bufio.NewReaderSize(c, 16<<10))
				if err != nil || n != size {
					b.Fatal(fmt.Errorf("read %d bytes: %v", n, err))
				}
				c.Close()
			}
		})
	}
}

// multipartConn returns a loopback TCP connection whose other end sends a
// multipart/form-data body of one file part of size bytes and closes.
func multipartConn(b *testing.B, boundary string, size int) net.Conn {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return
		}
		defer c.Close()
		chunk := patternChunk()
		w := bufio.NewWriterSize(c, 1<<20)
		mw := multipart.NewWriter(w)
		mw.SetBoundary(boundary)
		fw, _ := mw.CreateFormFile("f", "big.bin")
		for n := 0; n < size; n += len(chunk) {
			fw.Write(chunk)
		}
		mw.Close()
		w.Flush()
	}()
	c, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// patternChunk returns the 1 MiB that multipartConn's body repeats.
func patternChunk() []byte {
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i * 31)
	}
	return chunk
}

// BenchmarkMultipartUpload stores a 64 MiB file part read from a loopback TCP
// connection (through a 16 KiB buffered reader, as fasthttp's request stream) into a
// vfs.Writer over the local backend (sync = "none", so that the disk does not blur the
// CPU) with a SQLite journal: "WriteTo" passes the data on from partReader's buffer to
// Write, which copies it into the hash's buffers; "copyPart" is the handler's way, the
// Writer's ReadFrom receiving the part straight into the hash's buffers (readDirect).
// cpu-ms/op is the whole process's CPU (sender and receiver) per upload.
func BenchmarkMultipartUpload(b *testing.B) {
	const size = 64 << 20
	const boundary = "bench-boundary-1234567890"
	ctx := context.Background()
	st, tn := benchStore(b)
	backend, err := local.Open(map[string]any{"root": b.TempDir(), "sync": local.SyncNone})
	if err != nil {
		b.Fatal(err)
	}
	defer backend.(io.Closer).Close()
	fsys := vfs.New(backend, st, vfs.Session{TenantID: tn.ID, TenantRoot: "/", Protocol: "http",
		Rights: vfs.Rights{Read: true, List: true, Write: true}})
	api := &API{}
	h := sha256.New()
	for range size >> 20 {
		h.Write(patternChunk())
	}
	want := hex.EncodeToString(h.Sum(nil))
	for _, v := range []struct {
		name string
		copy func(w *vfs.Writer, p *formPart) error
	}{
		{"WriteTo", func(w *vfs.Writer, p *formPart) error { _, err := p.WriteTo(w); return err }},
		{"copyPart", func(w *vfs.Writer, p *formPart) error { return api.copyPart(w, p) }},
	} {
		b.Run(v.name, func(b *testing.B) {
			b.SetBytes(size)
			cpu0 := cputime.Process()
			for b.Loop() {
				c := multipartConn(b, boundary, size)
				pr, err := newPartReader(bufio.NewReaderSize(c, 16<<10), boundary)
				if err != nil {
					b.Fatal(err)
				}
				part, err := pr.NextPart()
				if err != nil {
					b.Fatal(err)
				}
				w, err := fsys.Create(ctx, "/up.bin", vfs.CreateOptions{Overwrite: true})
				if err != nil {
					b.Fatal(err)
				}
				if err := v.copy(w, part); err != nil {
					b.Fatal(err)
				}
				ev, err := w.Commit(ctx)
				if err != nil || ev.Size != size || ev.SHA256 != want {
					b.Fatalf("commit: %d bytes, SHA-256 %s, %v; want %d bytes, %s", ev.Size, ev.SHA256, err, size, want)
				}
				pr.release()
				c.Close()
			}
			b.ReportMetric(float64((cputime.Process()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
		})
	}
}
