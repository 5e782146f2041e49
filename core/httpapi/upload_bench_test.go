package httpapi

import (
	"bufio"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"testing"

	"github.com/filegate/filegate/core/internal/iobuf"
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
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i * 31)
	}
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
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			b.SetBytes(size)
			for b.Loop() {
				go func() {
					c, err := net.Dial("tcp", ln.Addr().String())
					if err != nil {
						return
					}
					defer c.Close()
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
				n, err := v.read(bufio.NewReaderSize(c, 16<<10))
				if err != nil || n != size {
					b.Fatal(fmt.Errorf("read %d bytes: %v", n, err))
				}
				c.Close()
			}
		})
	}
}
