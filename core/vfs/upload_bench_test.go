package vfs_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"testing"

	"github.com/filegate/filegate/core/internal/cputime"

	"github.com/filegate/filegate/core/internal/iobuf"
	"github.com/filegate/filegate/core/store"
	"github.com/filegate/filegate/core/vfs"
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/local"
)

// BenchmarkUpload receives 64 MiB over a loopback TCP connection in iobuf chunks into
// the local backend (sync = "none", so that the disk does not blur the CPU): "store"
// only stores (no SHA-256: what vsftpd and nginx do), "hash-beside-write" hashes each
// chunk on a goroutine while the storage writes it (the Writer before its hasher: the
// hash overlaps the write but not the next receive), "writer" is vfs.Writer, whose
// hasher overlaps the receive and the write of the next chunks (each chunk copied from
// iobuf.Copy's buffer into the hasher's), "writer.ReadFrom" is vfs.Writer reading the
// connection straight into the hasher's buffers (no such copy). cpu-ms/op is the
// whole process's CPU (sender and receiver) per upload.
func BenchmarkUpload(b *testing.B) {
	const size = 64 << 20
	s, err := local.Open(map[string]any{"root": b.TempDir(), "sync": local.SyncNone})
	if err != nil {
		b.Fatal(err)
	}
	defer s.(io.Closer).Close()
	fsys, _ := sumEnv(b, s)
	ctx := context.Background()
	for _, v := range []struct {
		name   string
		upload func(src io.Reader) error
	}{
		{"store", func(src io.Reader) error {
			up, err := s.Create(ctx, "/up.bin")
			if err != nil {
				return err
			}
			if _, err := iobuf.Copy(up, src); err != nil {
				return err
			}
			return up.Commit(ctx)
		}},
		{"hash-beside-write", func(src io.Reader) error {
			up, err := s.Create(ctx, "/up.bin")
			if err != nil {
				return err
			}
			if _, err := iobuf.Copy(hashBesideWrite{up, sha256.New()}, src); err != nil {
				return err
			}
			return up.Commit(ctx)
		}},
		{"writer", func(src io.Reader) error {
			w, err := fsys.Create(ctx, "/up.bin", vfs.CreateOptions{Overwrite: true})
			if err != nil {
				return err
			}
			if _, err := iobuf.Copy(w, src); err != nil {
				w.Abort()
				return err
			}
			_, err = w.Commit(ctx)
			return err
		}},
		{"writer.ReadFrom", func(src io.Reader) error {
			w, err := fsys.Create(ctx, "/up.bin", vfs.CreateOptions{Overwrite: true})
			if err != nil {
				return err
			}
			if _, err := w.ReadFrom(src); err != nil {
				w.Abort()
				return err
			}
			_, err = w.Commit(ctx)
			return err
		}},
	} {
		b.Run(v.name, func(b *testing.B) {
			b.SetBytes(size)
			cpu0 := cputime.Process()
			for b.Loop() {
				src, done := sendingConn(b, size)
				if err := v.upload(src); err != nil {
					b.Fatal(err)
				}
				src.Close()
				<-done
			}
			b.ReportMetric(float64((cputime.Process()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
		})
	}
}

// hashBesideWrite is how vfs.Writer hashed before its hasher: each chunk on a goroutine
// while the storage writes it, waiting for both.
type hashBesideWrite struct {
	up   hostapi.Upload
	hash io.Writer
}

func (h hashBesideWrite) Write(p []byte) (int, error) {
	hashed := make(chan struct{})
	go func() {
		defer close(hashed)
		h.hash.Write(p)
	}()
	n, err := h.up.Write(p)
	<-hashed
	return n, err
}

// sendingConn returns a loopback TCP connection whose other end sends size bytes in
// 1 MiB writes and closes.
func sendingConn(b *testing.B, size int) (net.Conn, chan struct{}) {
	return loopback(b, func(c net.Conn) {
		buf := make([]byte, 1<<20)
		for i := range buf {
			buf[i] = byte(i * 7)
		}
		for n := 0; n < size; n += len(buf) {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	})
}

// BenchmarkSmallUploadsDurable uploads 4 KiB files one after another through vfs into
// the local backend with its durable default and a SQLite store as the journal, as a
// `put -r` of small files does: per file a flush of the file and of its folder, and
// the event's transaction.
func BenchmarkSmallUploadsDurable(b *testing.B) {
	backend, err := local.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer backend.Close()
	st, err := store.Open(context.Background(), "sqlite", filepath.Join(b.TempDir(), "filegate.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	tn, err := st.CreateTenant(context.Background(), "bench", "default", "/")
	if err != nil {
		b.Fatal(err)
	}
	fsys := vfs.New(backend, st, vfs.Session{TenantID: tn.ID, Account: "bench", Protocol: "sftp",
		Rights: vfs.Rights{Read: true, List: true, Write: true}})
	ctx := context.Background()
	if err := fsys.Mkdir(ctx, "/many", false); err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 4096)
	i := 0
	for b.Loop() {
		i++
		w, err := fsys.Create(ctx, fmt.Sprintf("/many/f%06d.bin", i), vfs.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			b.Fatal(err)
		}
		if _, err := w.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
