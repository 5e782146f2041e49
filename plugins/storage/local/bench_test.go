package local

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"
)

// BenchmarkUploadCommit writes a 256 MiB upload in 256 KiB chunks, hashing each as the
// core does, and commits it: durably without writeback started during the upload (the
// old path), durably with it (sync = "commit", the default), and without flushing
// (sync = "none"). It reports MB/s of the whole upload, commit included, and the time
// Commit takes: what the client waits for after its last byte.
func BenchmarkUploadCommit(b *testing.B) {
	const size, chunk = 256 << 20, 256 << 10
	buf := make([]byte, chunk)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for _, v := range []struct {
		name      string
		noSync    bool
		writeback int64
	}{
		{"commit-no-writeback", false, 0},
		{"commit-writeback-8MiB", false, writebackChunk},
		{"none", true, 0},
	} {
		b.Run(v.name, func(b *testing.B) {
			s, err := New(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			s.noSync, s.writeback = v.noSync, v.writeback
			h := sha256.New()
			b.SetBytes(size)
			var commit time.Duration
			for i := 0; b.Loop(); i++ {
				up, err := s.Create(context.Background(), fmt.Sprintf("/f%d", i%4))
				if err != nil {
					b.Fatal(err)
				}
				for off := 0; off < size; off += chunk {
					h.Write(buf)
					if _, err := up.Write(buf); err != nil {
						b.Fatal(err)
					}
				}
				start := time.Now()
				if err := up.Commit(context.Background()); err != nil {
					b.Fatal(err)
				}
				commit += time.Since(start)
			}
			b.ReportMetric(float64(commit.Milliseconds())/float64(b.N), "commit-ms/op")
		})
	}
}
