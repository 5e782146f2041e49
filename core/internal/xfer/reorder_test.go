package xfer

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestReorderSpillsPastBound holds writes past the memory bound in a spill file that
// is never visible in its folder, and reads them back in any order.
func TestReorderSpillsPastBound(t *testing.T) {
	dir := t.TempDir()
	r := newReorder(dir, 3<<10, 6<<10)
	chunk := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 1<<10) }
	for i := 9; i >= 1; i-- {
		if err := r.put(int64(i)<<10, chunk(i)); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
		if r.held > 3<<10 {
			t.Fatalf("%d bytes held in memory, bound 3 KiB", r.held)
		}
	}
	if r.spill == nil || r.spillEnd != 6<<10 {
		t.Fatalf("spilled %d bytes, want 6 KiB", r.spillEnd)
	}
	if err := r.put(5<<10, chunk(5)); err == nil {
		t.Error("a second write at the same offset was accepted")
	}
	if err := r.put(10<<10, chunk(10)); !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "too far ahead") {
		t.Errorf("a write past the spill limit: %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 && r.named == "" {
		t.Errorf("an unlinked spill file is listed: %v", left)
	}
	for _, i := range []int{1, 9, 4, 6} {
		b, ok, err := r.take(int64(i) << 10)
		if err != nil || !ok || !bytes.Equal(b, chunk(i)) {
			t.Fatalf("take %d = %d bytes, %v, %v", i, len(b), ok, err)
		}
	}
	if _, ok, _ := r.take(1 << 10); ok {
		t.Error("a write was taken twice")
	}
	if n, size := r.pending(); n != 5 || size != 5<<10 {
		t.Errorf("pending = %d writes, %d bytes; want 5, 5 KiB", n, size)
	}
	if err := r.close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left after close: %v", left)
	}
	if n, _ := r.pending(); n != 0 || r.spill != nil {
		t.Errorf("after close: %d writes held, spill %v", n, r.spill)
	}
}
