package local

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// BenchmarkPageCacheWrites uploads 1 GiB through the page cache (sync = "none") in
// 1 MiB Writes, as vfs hands over an FTP or HTTP upload: each Write passed to the
// kernel whole ("whole", as before cacheWriteMax) and in cacheWriteMax pieces
// ("pieces"). After each upload the file is removed and the benchmark waits 3 s,
// untimed, as between two uploads on a live server: long enough for a virtual machine
// to hand the freed memory back to its host (free page reporting waits 2 s), which is
// what makes large folios expensive (see cacheWriteMax). Without the pause the two are
// within 10 %. sys-ms/op is the process's system time per upload.
func BenchmarkPageCacheWrites(b *testing.B) {
	const size, chunk = 1 << 30, 1 << 20
	buf := make([]byte, chunk)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for _, v := range []struct {
		name  string
		piece int
	}{{"whole", chunk}, {"pieces", cacheWriteMax}} {
		b.Run(v.name, func(b *testing.B) {
			s, err := New(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			s.noSync, s.cacheWrite = true, v.piece
			ctx := context.Background()
			b.SetBytes(size)
			var sys time.Duration
			for i := 0; b.Loop(); i++ {
				name := fmt.Sprintf("/f%d", i)
				start := systemTime(b)
				up, err := s.Create(ctx, name)
				if err != nil {
					b.Fatal(err)
				}
				for off := 0; off < size; off += chunk {
					if _, err := up.Write(buf); err != nil {
						b.Fatal(err)
					}
				}
				if err := up.Commit(ctx); err != nil {
					b.Fatal(err)
				}
				sys += systemTime(b) - start
				b.StopTimer()
				if err := s.Remove(ctx, name); err != nil {
					b.Fatal(err)
				}
				time.Sleep(3 * time.Second)
				b.StartTimer()
			}
			b.ReportMetric(float64(sys.Milliseconds())/float64(b.N), "sys-ms/op")
		})
	}
}

// systemTime returns the system CPU time the process has used.
func systemTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Stime.Nano())
}
