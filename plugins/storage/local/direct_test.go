package local

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
// page cache: from the first that goes past directFrom.
func expectDirect(steps []writeStep) []bool {
	var end int64
	engaged := make([]bool, len(steps))
	for i, st := range steps {
		end += int64(len(st.data))
		engaged[i] = end > directFrom
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

// TestDirectOutOfOrder: writes behind the window (rewrites of bytes written directly)
// and far past it (leaving a gap) keep the upload past the page cache; a write over
// bytes staged in the window ends that; every byte lands where it was aimed.
func TestDirectOutOfOrder(t *testing.T) {
	s, root := newDurable(t)
	needDirect(t, root)
	var want []byte
	put := func(off int, b []byte) writeStep {
		if len(want) < off+len(b) {
			want = append(want, make([]byte, off+len(b)-len(want))...)
		}
		copy(want[off:], b)
		return writeStep{int64(off), b}
	}
	var steps []writeStep
	for _, st := range pieces(patterned(2*directChunk+5000, 1), 64<<10, 5000) {
		steps = append(steps, put(len(want), st.data))
	}
	engaged := expectDirect(steps)
	steps = append(steps,
		put(directChunk+100, patterned(3000, 2)),         // behind the window: written directly before
		put(len(want)+3*directChunk, patterned(4000, 3)), // far past it
		put(len(want)-1000, patterned(2000, 4)),          // over bytes staged: ends direct writing
		put(len(want), patterned(777, 5)))
	engaged = append(engaged, true, true, false, false)
	got := runUpload(t, s, root, steps, func(i int) bool { return engaged[i] })
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

// TestDirectConfig: config direct = false keeps durable uploads in the page cache,
// true (the default) writes them past it, and anything else is refused.
func TestDirectConfig(t *testing.T) {
	data := patterned(2*directChunk+10, 11)
	steps := pieces(data, 256<<10)
	engaged := expectDirect(steps)
	for _, direct := range []bool{false, true} {
		root := t.TempDir()
		if direct {
			needDirect(t, root)
		}
		hs, err := Open(map[string]any{"root": root, "direct": direct})
		if err != nil {
			t.Fatal(err)
		}
		s := hs.(*Storage)
		got := runUpload(t, s, root, steps, func(i int) bool { return direct && engaged[i] })
		s.Close()
		if !bytes.Equal(got, data) {
			t.Errorf("direct = %v: the file differs from the bytes written", direct)
		}
	}
	if _, err := Open(map[string]any{"root": t.TempDir(), "direct": "no"}); err == nil || !strings.Contains(err.Error(), `"direct"`) {
		t.Errorf(`direct = "no": error %v, want one naming the key`, err)
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
	if u.direct != nil {
		t.Error("the direct descriptor was left open")
	}
	if des, _ := os.ReadDir(root); len(des) != 0 {
		t.Errorf("left behind: %v", des)
	}
}

// TestDirectReordered: writes that arrive a little out of order, as an SFTP client's
// parallel 32 KiB requests do, stay past the page cache, and the file holds exactly
// their bytes.
func TestDirectReordered(t *testing.T) {
	s, root := newDurable(t)
	needDirect(t, root)
	const piece = 32 << 10
	data := patterned(4*directChunk+3*piece+77, 11)
	var steps []writeStep
	r := rand.New(rand.NewPCG(11, 12))
	for group := 0; group < len(data); group += 8 * piece {
		var offs []int
		for off := group; off < min(len(data), group+8*piece); off += piece {
			offs = append(offs, off)
		}
		r.Shuffle(len(offs), func(i, j int) { offs[i], offs[j] = offs[j], offs[i] })
		for _, off := range offs {
			steps = append(steps, writeStep{int64(off), data[off:min(len(data), off+piece)]})
		}
	}
	var highest int64
	got := runUpload(t, s, root, steps, func(i int) bool {
		highest = max(highest, steps[i].off+int64(len(steps[i].data)))
		return highest > directFrom
	})
	if !bytes.Equal(got, data) {
		t.Errorf("the file differs from the bytes written (%d bytes, want %d)", len(got), len(data))
	}
}

// TestDirectHole: bytes never written inside the window read as zeros after the commit,
// as in any file written with a gap.
func TestDirectHole(t *testing.T) {
	s, root := newDurable(t)
	needDirect(t, root)
	head, tail := patterned(directChunk+4096, 13), patterned(5000, 14)
	want := append(append(append([]byte{}, head...), make([]byte, 70000)...), tail...)
	steps := []writeStep{{-1, head}, {int64(len(want) - len(tail)), tail}}
	got := runUpload(t, s, root, steps, func(int) bool { return true })
	if !bytes.Equal(got, want) {
		t.Errorf("the file differs from the bytes written (%d bytes, want %d)", len(got), len(want))
	}
}

// TestSpans: staged ranges merge with their neighbours and report overlaps.
func TestSpans(t *testing.T) {
	var s spans
	for _, r := range []span{{10, 20}, {30, 40}, {20, 30}, {0, 5}, {5, 10}, {50, 60}} {
		if s.overlaps(r.from, r.to) {
			t.Fatalf("%v overlaps %v", r, s)
		}
		s.add(r.from, r.to)
	}
	if want := (spans{{0, 40}, {50, 60}}); !slices.Equal(s, want) {
		t.Errorf("spans %v, want %v", s, want)
	}
	for _, r := range []span{{39, 41}, {0, 1}, {45, 51}, {59, 70}} {
		if !s.overlaps(r.from, r.to) {
			t.Errorf("%v does not overlap %v", r, s)
		}
	}
	if s.overlaps(40, 50) || s.whole() {
		t.Error("the gap counts as staged")
	}
	s.add(40, 50)
	s.add(60, directChunk)
	if !s.whole() {
		t.Errorf("%v is not whole", s)
	}
}

// TestCacheWritesInPieces: writes through the page cache larger than cacheWrite go in
// pieces, each where it belongs: appends of every size, and writes out of order over
// them, leave the file holding exactly the bytes written, at both sync settings.
func TestCacheWritesInPieces(t *testing.T) {
	for _, noSync := range []bool{true, false} {
		s, root := newDurable(t)
		s.noSync, s.noDirect, s.cacheWrite = noSync, true, 1000
		data := patterned(50_000, 3)
		steps := pieces(data, 4567, 1000, 1, 12345, 999, 1001)
		over := patterned(3333, 4)
		copy(data[1500:], over)
		steps = append(steps, writeStep{1500, over})
		got := runUpload(t, s, root, steps, func(int) bool { return false })
		if !bytes.Equal(got, data) {
			t.Errorf("sync none %v: the file differs from the bytes written (%d bytes, want %d)", noSync, len(got), len(data))
		}
	}
}
