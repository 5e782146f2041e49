package local

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// patterned returns n bytes that differ at every offset a test might confuse.
func patterned(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 7))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// newDurable returns a Storage over a new folder, with its defaults (sync = "commit"),
// closed when the test ends, and the folder.
func newDurable(t testing.TB) (*Storage, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

// needDirect skips the test where the temporary folder's file system refuses O_DIRECT
// (uploads there go through the page cache, as TestDirectRefused checks).
func needDirect(t *testing.T, root string) {
	t.Helper()
	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.WriteFile("probe", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	defer r.Remove("probe")
	f, err := openDirect(r, "probe")
	if err != nil {
		t.Skipf("the file system of %s refuses O_DIRECT: %v", root, err)
	}
	f.Close()
}

// directState says whether u writes past the page cache now.
func directState(u *Upload) (engaged bool) {
	u.wmu.Lock()
	defer u.wmu.Unlock()
	return u.direct != nil && u.direct.f != nil
}

// writeStep is one of an upload's writes: each at off, or appended with Write when off < 0.
type writeStep struct {
	off  int64
	data []byte
}

// runUpload makes an upload of steps on s, checking after each whether it writes
// past the page cache, commits it, and returns the file's bytes.
func runUpload(t *testing.T, s *Storage, root string, steps []writeStep, engagedAfter func(i int) bool) []byte {
	t.Helper()
	hu, err := s.Create(context.Background(), "/d.bin")
	if err != nil {
		t.Fatal(err)
	}
	u := hu.(*Upload)
	for i, st := range steps {
		var n int
		if st.off < 0 {
			n, err = u.Write(st.data)
		} else {
			n, err = u.WriteAt(st.data, st.off)
		}
		if err != nil || n != len(st.data) {
			t.Fatalf("write %d: %d, %v", i, n, err)
		}
		if want := engagedAfter(i); directState(u) != want {
			t.Fatalf("after write %d: writing past the page cache = %v, want %v", i, !want, want)
		}
	}
	if err := u.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, "d.bin"))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// pieces cuts data into appends of the given sizes, repeated.
func pieces(data []byte, sizes ...int) []writeStep {
	var steps []writeStep
	for off, i := 0, 0; off < len(data); i++ {
		n := min(sizes[i%len(sizes)], len(data)-off)
		steps = append(steps, writeStep{-1, data[off : off+n]})
		off += n
	}
	return steps
}

// expectDirect says after which of steps, appends in order, an upload writes past the
// page cache: from the first that reaches directFrom.
func expectDirect(steps []writeStep) []bool {
	var end int64
	engaged := make([]bool, len(steps))
	for i, st := range steps {
		end += int64(len(st.data))
		engaged[i] = end >= directFrom
	}
	return engaged
}

// TestDirectInOrder: an upload written in order, in pieces of every size and
// alignment, writes past the page cache once it is past directFrom at an aligned
// offset, and its file holds exactly its bytes: the tail, shorter than a block,
// included.
func TestDirectInOrder(t *testing.T) {
	for _, sizes := range [][]int{{256 << 10}, {32 << 10, 7, 4096, 100000}, {directChunk}, {3 * directChunk}, {1}} {
		s, root := newDurable(t)
		needDirect(t, root)
		data := patterned(3*directChunk+4096*5+123, uint64(sizes[0]))
		if sizes[0] == 1 {
			data = data[:directFrom+3*4096+1] // a byte at a time: staged bytes cross chunks one by one
		}
		steps := pieces(data, sizes...)
		engaged := expectDirect(steps)
		got := runUpload(t, s, root, steps, func(i int) bool { return engaged[i] })
		if !bytes.Equal(got, data) {
			t.Errorf("pieces %v: the file differs from the bytes written (%d bytes, want %d)", sizes, len(got), len(data))
		}
		if !engaged[len(engaged)-1] {
			t.Errorf("pieces %v: never wrote past the page cache", sizes)
		}
	}
}

// TestDirectOutOfOrder: a write out of order ends direct writing, what was staged
// reaches the file, and the writes after it (rewrites, gaps, appends) land where they
// were aimed.
func TestDirectOutOfOrder(t *testing.T) {
	s, root := newDurable(t)
	needDirect(t, root)
	want := patterned(2*directChunk+5000, 1)
	steps := pieces(want, 64<<10, 5000)
	engaged := expectDirect(steps)
	if !engaged[len(engaged)-1] {
		t.Fatal("the appends never write past the page cache: change the test's sizes")
	}
	rewrite := patterned(3000, 2)
	copy(want[directChunk+100:], rewrite)
	steps = append(steps, writeStep{directChunk + 100, rewrite}) // back into staged bytes
	gap := patterned(4000, 3)
	want = append(want, make([]byte, 10000)...)
	want = append(want, gap...)
	steps = append(steps, writeStep{int64(len(want) - len(gap)), gap}) // past the end
	tail := patterned(777, 4)
	want = append(want, tail...)
	steps = append(steps, writeStep{int64(len(want) - len(tail)), tail})
	got := runUpload(t, s, root, steps, func(i int) bool { return i < len(engaged) && engaged[i] })
	if !bytes.Equal(got, want) {
		t.Errorf("the file differs from the bytes written (%d bytes, want %d)", len(got), len(want))
	}
}

// stagedUpload creates name on s and appends n bytes, enough to write past the page
// cache with some staged.
func stagedUpload(t *testing.T, s *Storage, name string, n int) (*Upload, []byte) {
	t.Helper()
	needDirect(t, s.root.Name())
	hu, err := s.Create(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	u := hu.(*Upload)
	data := patterned(n, uint64(n))
	if _, err := u.Write(data); err != nil {
		t.Fatal(err)
	}
	if !directState(u) {
		t.Fatalf("not writing past the page cache after %d bytes in order", n)
	}
	return u, data
}

// TestDirectReadAt: reading back during an upload sees the staged bytes.
func TestDirectReadAt(t *testing.T) {
	s, _ := newDurable(t)
	u, data := stagedUpload(t, s, "/r.bin", directChunk+directChunk/2+9)
	defer u.Abort()
	got := make([]byte, 4096)
	if _, err := u.ReadAt(got, int64(len(data)-len(got))); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data[len(data)-len(got):]) {
		t.Error("ReadAt returned other bytes than the last ones written")
	}
}

// TestDirectAbort: an upload aborted while bytes are staged leaves nothing behind.
func TestDirectAbort(t *testing.T) {
	s, root := newDurable(t)
	u, _ := stagedUpload(t, s, "/a.bin", directChunk+5000)
	if err := u.Abort(); err != nil {
		t.Fatal(err)
	}
	des, err := os.ReadDir(root)
	if err != nil || len(des) != 0 {
		t.Errorf("left behind: %v, %v", des, err)
	}
	if _, err := u.Write([]byte("x")); err == nil {
		t.Error("a write after Abort succeeded")
	}
}

// TestDirectRefused: where the file system refuses O_DIRECT the upload goes through
// the page cache, whole.
func TestDirectRefused(t *testing.T) {
	saved := openDirect
	openDirect = func(*os.Root, string) (*os.File, error) {
		return nil, &fs.PathError{Op: "open", Err: errors.ErrUnsupported}
	}
	defer func() { openDirect = saved }()
	s, root := newDurable(t)
	data := patterned(2*directChunk+10, 8)
	got := runUpload(t, s, root, pieces(data, 256<<10), func(int) bool { return false })
	if !bytes.Equal(got, data) {
		t.Error("the file differs from the bytes written")
	}
}

// TestDirectOnlyWhenFlushing: with sync = "none" uploads stay in the page cache.
func TestDirectOnlyWhenFlushing(t *testing.T) {
	s, root := newDurable(t)
	s.noSync = true
	data := patterned(2*directChunk, 9)
	got := runUpload(t, s, root, pieces(data, 256<<10), func(int) bool { return false })
	if !bytes.Equal(got, data) {
		t.Error("the file differs from the bytes written")
	}
}

// TestDirectWriteFails: when a chunk written past the page cache fails, the bytes the
// client was told were written are lost: every later write and the commit fail, and
// nothing appears at the target.
func TestDirectWriteFails(t *testing.T) {
	saved := openDirect
	openDirect = func(dir *os.Root, name string) (*os.File, error) { return dir.Open(name) } // read-only: writes fail
	defer func() { openDirect = saved }()
	s, root := newDurable(t)
	hu, err := s.Create(context.Background(), "/f.bin")
	if err != nil {
		t.Fatal(err)
	}
	u := hu.(*Upload)
	data := patterned(256<<10, 10)
	var failed int
	for i := 0; i < 16 && failed == 0; i++ { // the first chunk fails in the background
		if _, err := u.Write(data); err != nil {
			failed = i
		}
	}
	if failed == 0 {
		t.Fatal("no write failed")
	}
	if _, err := u.Write(data); err == nil {
		t.Error("a write after the failure succeeded")
	}
	if _, err := u.WriteAt(data, 0); err == nil {
		t.Error("a write out of order after the failure succeeded")
	}
	if err := u.Commit(context.Background()); err == nil {
		t.Error("the upload committed")
	}
	if des, _ := os.ReadDir(root); len(des) != 0 {
		t.Errorf("left behind: %v", des)
	}
}
