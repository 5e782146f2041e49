package local

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"
)

// BenchmarkUploadCommit writes a 256 MiB upload in 256 KiB chunks, hashing each as the
// core does, and commits it: durably past the page cache (sync = "commit", the
// default, direct.go), durably through the page cache with and without writeback
// started during the upload (the paths before), and without flushing (sync = "none").
// It reports MB/s of the whole upload, commit included, and the time Commit takes:
// what the client waits for after its last byte. Compare CPU time with /usr/bin/time
// and one variant per run.
func BenchmarkUploadCommit(b *testing.B) {
	const size, chunk = 256 << 20, 256 << 10
	buf := make([]byte, chunk)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for _, v := range []struct {
		name             string
		noSync, noDirect bool
		writeback        int64
	}{
		{"commit", false, false, writebackChunk},
		{"commit-buffered", false, true, writebackChunk},
		{"commit-buffered-no-writeback", false, true, 0},
		{"none", true, false, 0},
	} {
		b.Run(v.name, func(b *testing.B) {
			s, err := New(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			s.noSync, s.noDirect, s.writeback = v.noSync, v.noDirect, v.writeback
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

// BenchmarkSmallUploads creates, writes and commits new 4 KiB files three folders deep,
// as a recursive upload of small files does, with and without the flush at commit.
// Its time is mostly the file system's; count system calls with strace -c -f (per
// upload with sync = "none": 6 openat and 6 close since uploads hold their folder,
// 16 and 16 before).
func BenchmarkSmallUploads(b *testing.B) {
	buf := make([]byte, 4<<10)
	for _, v := range []struct {
		name   string
		noSync bool
	}{{"none", true}, {"commit", false}} {
		b.Run(v.name, func(b *testing.B) {
			s, err := New(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			s.noSync = v.noSync
			ctx := context.Background()
			for _, d := range []string{"/tenants", "/tenants/7", "/tenants/7/many"} {
				if err := s.Mkdir(ctx, d); err != nil {
					b.Fatal(err)
				}
			}
			for i := 0; b.Loop(); i++ {
				up, err := s.Create(ctx, fmt.Sprintf("/tenants/7/many/f%07d.bin", i))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := up.Write(buf); err != nil {
					b.Fatal(err)
				}
				if err := up.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
