package vfs_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"testing"

	"github.com/filegate/filegate/core/vfs"
)

// choppy returns its data in reads of random sizes up to 100 KiB, as a connection does,
// then fails with err (io.EOF when nil).
type choppy struct {
	data []byte
	rnd  *rand.Rand
	err  error
}

func (c *choppy) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		return 0, io.EOF
	}
	n := min(len(p), len(c.data), 1+c.rnd.IntN(100<<10))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// hooked calls hook before each read.
type hooked struct {
	r    io.Reader
	hook func()
}

func (h *hooked) Read(p []byte) (int, error) { h.hook(); return h.r.Read(p) }

func newChoppy(data []byte, seed uint64) *choppy {
	return &choppy{data: data, rnd: rand.New(rand.NewPCG(seed, 1))}
}

func testData(n int) []byte {
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i*7 + i>>11)
	}
	return data
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TestReadFrom uploads through Writer.ReadFrom, alone and mixed with Write and WriteAt,
// and checks that the file holds the bytes and its event their SHA-256.
func TestReadFrom(t *testing.T) {
	data := testData(3*vfs.HashChunk + 12345)
	backends(t, func(t *testing.T, e *env) {
		for _, tc := range []struct {
			name  string
			write func(t *testing.T, w *vfs.Writer)
		}{
			{"whole", func(t *testing.T, w *vfs.Writer) {
				if n, err := w.ReadFrom(newChoppy(data, 1)); err != nil || n != int64(len(data)) {
					t.Fatalf("ReadFrom = %d, %v; want %d, nil", n, err, len(data))
				}
			}},
			{"io.Copy", func(t *testing.T, w *vfs.Writer) {
				if _, err := io.Copy(w, newChoppy(data, 2)); err != nil {
					t.Fatal(err)
				}
			}},
			{"after and before Write", func(t *testing.T, w *vfs.Writer) {
				a, b, c := 1000, vfs.HashChunk+5000, 2*vfs.HashChunk+7
				mustWrite(t, w, data[:a])
				if _, err := w.ReadFrom(newChoppy(data[a:b], 3)); err != nil {
					t.Fatal(err)
				}
				mustWrite(t, w, data[b:c])
				if _, err := w.ReadFrom(newChoppy(data[c:], 4)); err != nil {
					t.Fatal(err)
				}
			}},
			{"after a rewrite", func(t *testing.T, w *vfs.Writer) {
				if !w.CanWriteAt() {
					t.Skip("the backend cannot write out of order")
				}
				mustWrite(t, w, data[:5000])
				if _, err := w.WriteAt(data[10:20], 10); err != nil { // hashed bytes again: hashed at Commit
					t.Fatal(err)
				}
				if _, err := w.ReadFrom(newChoppy(data[5000:], 5)); err != nil {
					t.Fatal(err)
				}
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				w, err := e.fs.Create(t.Context(), "rf.bin", vfs.CreateOptions{Overwrite: true})
				if err != nil {
					t.Fatal(err)
				}
				tc.write(t, w)
				ev, err := w.Commit(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if ev.Size != int64(len(data)) || ev.SHA256 != sha(data) {
					t.Errorf("event: size %d sha %s, want %d %s", ev.Size, ev.SHA256, len(data), sha(data))
				}
				if got := e.backendContent(t, "/tenants/7/uploads/rf.bin"); got != string(data) {
					t.Errorf("the file holds %d bytes that differ from the %d sent", len(got), len(data))
				}
				e.j.take(t)
			})
		}
	})
}

func mustWrite(t *testing.T, w *vfs.Writer, b []byte) {
	t.Helper()
	if n, err := w.Write(b); err != nil || n != len(b) {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(b))
	}
}

// TestReadFromReadError: an error from the reader comes back as it is, after the bytes
// before it were written, and an aborted upload leaves nothing.
func TestReadFromReadError(t *testing.T) {
	data := testData(vfs.HashChunk + 999)
	broken := errors.New("connection reset")
	backends(t, func(t *testing.T, e *env) {
		w, err := e.fs.Create(t.Context(), "broken.bin", vfs.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		src := newChoppy(data, 6)
		src.err = broken
		n, err := w.ReadFrom(src)
		if err != broken || n != int64(len(data)) {
			t.Errorf("ReadFrom = %d, %v; want %d, %v", n, err, len(data), broken)
		}
		if err := w.Abort(); err != nil {
			t.Fatal(err)
		}
		if _, err := e.backend.Stat(t.Context(), "/tenants/7/uploads/broken.bin"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("after Abort: Stat = %v, want not found", err)
		}
		e.j.want(t)
	})
}

// TestReadFromConcurrent makes calls while ReadFrom's reader blocks (the Writer is not
// held then): the event's SHA-256 is that of the bytes stored after Writes made in
// between, and an Abort ends ReadFrom cleanly.
func TestReadFromConcurrent(t *testing.T) {
	data := testData(2*vfs.HashChunk + 321)
	backends(t, func(t *testing.T, e *env) {
		t.Run("Write inside a read", func(t *testing.T) {
			w, err := e.fs.Create(t.Context(), "mixed.bin", vfs.CreateOptions{Overwrite: true})
			if err != nil {
				t.Fatal(err)
			}
			// Every third read, a Write lands between ReadFrom taking a buffer of the hash
			// and handing it back with the bytes read.
			reads, extra := 0, 0
			src := &hooked{r: newChoppy(data, 7), hook: func() {
				if reads++; reads%3 == 0 {
					mustWrite(t, w, data[:100+reads])
					extra += 100 + reads
				}
			}}
			if _, err := w.ReadFrom(src); err != nil {
				t.Fatal(err)
			}
			ev, err := w.Commit(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			got := e.backendContent(t, "/tenants/7/uploads/mixed.bin")
			if want := len(data) + extra; extra == 0 || ev.Size != int64(want) || len(got) != want || ev.SHA256 != sha([]byte(got)) {
				t.Errorf("event: size %d sha %s; the file: %d bytes (want %d), sha %s", ev.Size, ev.SHA256, len(got), want, sha([]byte(got)))
			}
			e.j.take(t)
		})
		t.Run("Abort while reading", func(t *testing.T) {
			w, err := e.fs.Create(t.Context(), "aborted.bin", vfs.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			pr, pw := io.Pipe()
			done := make(chan error, 1)
			go func() {
				_, err := w.ReadFrom(pr)
				done <- err
			}()
			pw.Write(data[:vfs.HashChunk+10]) // one chunk written, ReadFrom waits for more
			if err := w.Abort(); err != nil {
				t.Fatal(err)
			}
			pw.Write(data[:100])
			pw.Close()
			if err := <-done; !errors.Is(err, fs.ErrClosed) {
				t.Errorf("ReadFrom after Abort: %v, want fs.ErrClosed", err)
			}
			if _, err := e.backend.Stat(t.Context(), "/tenants/7/uploads/aborted.bin"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("after Abort: Stat = %v, want not found", err)
			}
			e.j.want(t)
		})
	})
}
