package xfer

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/filegate/filegate/core/vfs"
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/local"
)

// BenchmarkDownloadReadAt reads a 16 MiB local file in 32 KiB chunks the way pkg/sftp's
// request server does: requests handed out in order to 8 workers that call ReadAt
// concurrently. "broadcast" wakes every waiting worker at each step of the stream
// (the previous behaviour), "targeted" only the one whose chunk comes next, and
// "pread" is the ceiling of reading the *os.File at offsets directly, without one
// stream (what vfs would have to offer for local storage).
func BenchmarkDownloadReadAt(b *testing.B) {
	const (
		size    = 16 << 20
		chunk   = 32 << 10
		workers = 8
	)
	dir := b.TempDir()
	data := make([]byte, size)
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(dir, "f"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "f"))
	if err != nil {
		b.Fatal(err)
	}
	store, err := local.New(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	session := vfs.Session{TenantRoot: "/", Chroot: "/", Protocol: "sftp", Rights: vfs.Rights{Read: true}}
	filesystems := map[string]*vfs.FS{
		"hashed": vfs.New(store, nil, session),
		"known":  vfs.New(store, knownSum{fi}, session),
	}
	log := slog.New(slog.DiscardHandler)

	// readAll reads the file through ra the way pkg/sftp's workers do.
	readAll := func(b *testing.B, ra io.ReaderAt) {
		offs := make(chan int64, workers)
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				buf := make([]byte, chunk)
				for off := range offs {
					if n, err := ra.ReadAt(buf, off); n != chunk || (err != nil && err != io.EOF) {
						b.Errorf("ReadAt(%d) = %d, %v", off, n, err)
					}
				}
			})
		}
		for off := int64(0); off < size; off += chunk {
			offs <- off
		}
		close(offs)
		wg.Wait()
	}
	for _, sum := range []string{"hashed", "known"} {
		for _, broadcast := range []bool{true, false} {
			name := sum + "/" + map[bool]string{true: "broadcast", false: "targeted"}[broadcast]
			b.Run(name, func(b *testing.B) {
				b.SetBytes(size)
				c0 := cpuTime(b)
				for b.Loop() {
					d, err := Open(b.Context(), log, filesystems[sum], "/f", 0)
					if err != nil {
						b.Fatal(err)
					}
					d.broadcast = broadcast
					readAll(b, d)
					if err := d.Close(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(cpuTime(b)-c0)/float64(b.N), "cpu-ns/op")
			})
		}
	}
	b.Run("pread", func(b *testing.B) {
		b.SetBytes(size)
		c0 := cpuTime(b)
		for b.Loop() {
			f, err := os.Open(filepath.Join(dir, "f"))
			if err != nil {
				b.Fatal(err)
			}
			readAll(b, f)
			f.Close()
		}
		b.ReportMetric(float64(cpuTime(b)-c0)/float64(b.N), "cpu-ns/op")
	})
}

// knownSum is a journal that knows the SHA-256 of one file (any path), so that vfs
// does not hash a download of it.
type knownSum struct{ fi os.FileInfo }

func (knownSum) Record(context.Context, int64, hostapi.Event) error { return nil }

func (k knownSum) FileSum(context.Context, int64, string) (int64, time.Time, string, error) {
	return k.fi.Size(), k.fi.ModTime(), strings.Repeat("0", 64), nil
}

// cpuTime is the CPU time this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
