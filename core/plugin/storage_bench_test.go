package plugin

import (
	"context"
	"io"
	"testing"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// BenchmarkStorage is the cost of the storage transports: a 64 MiB file written and
// read through the memory backend as builtin, wasm and process plugin (MB/s; the
// backend is the same, so the differences are the transport's), and one Stat (its
// median latency, and the gateway's CPU time per call: a process plugin's own CPU is
// not counted).
//
//	go test ./core/plugin -run - -bench 'Storage/(read|write)' -benchtime 5x
//	go test ./core/plugin -run - -bench 'Storage/stat'
func BenchmarkStorage(b *testing.B) {
	buildStorageGuests(b)
	const size = 64 << 20
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i)
	}
	ctx := context.Background()
	for _, tc := range []struct{ name, plugin string }{
		{"builtin", "memory"}, {"wasm", storageGuests.memWASM}, {"process", storageGuests.memExe},
	} {
		// A 64 MiB file, the upload replacing it and the Go guest's garbage fit in 1 GiB.
		s := openStorage(b, tc.plugin, nil, Limits{MemoryBytes: 1 << 30}).Storage()
		if err := putFile(ctx, s, "/small", []byte("hello")); err != nil {
			b.Fatal(err)
		}
		if err := writeChunked(ctx, s, "/f", data, 256<<10); err != nil {
			b.Fatal(err)
		}
		b.Run("write64MiB/"+tc.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				if err := writeChunked(ctx, s, "/f", data, 256<<10); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("read64MiB/"+tc.name, func(b *testing.B) {
			b.SetBytes(size)
			buf := make([]byte, 256<<10)
			for b.Loop() {
				r, err := s.Open(ctx, "/f", 0)
				if err != nil {
					b.Fatal(err)
				}
				// Neither side's WriteTo or ReadFrom: the bytes are copied, as a front end does.
				n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{r}, buf)
				r.Close()
				if err != nil || n != size {
					b.Fatalf("read %d bytes: %v", n, err)
				}
			}
		})
		b.Run("stat/"+tc.name, func(b *testing.B) {
			lat := benchLatencies(b, func() error { _, err := s.Stat(ctx, "/small"); return err })
			b.ReportMetric(float64(lat.p50.Nanoseconds())/1e3, "p50-µs")
		})
	}
}

// writeChunked writes data to name in writes of chunk bytes, as the front ends do.
func writeChunked(ctx context.Context, s hostapi.Storage, name string, data []byte, chunk int) error {
	up, err := s.Create(ctx, name)
	if err != nil {
		return err
	}
	for len(data) > 0 {
		k := min(len(data), chunk)
		if _, err := up.Write(data[:k]); err != nil {
			up.Abort()
			return err
		}
		data = data[k:]
	}
	return up.Commit(ctx)
}
