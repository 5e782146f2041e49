package objstore

import (
	"sort"
	"testing"
)

func TestPartPlan(t *testing.T) {
	p := PartPlan{Size: 8 << 20, MaxParts: 10000, MaxSize: 5 << 30}
	for _, tc := range []struct{ n, want int }{{1, 8 << 20}, {2500, 8 << 20}, {2501, 16 << 20}, {5001, 32 << 20}, {10000, 64 << 20}} {
		if got := p.PartSize(tc.n); got != tc.want {
			t.Errorf("PartSize(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
	var total int64
	for n := 1; n <= p.MaxParts; n++ {
		total += int64(p.PartSize(n))
	}
	if total != 300000<<20 { // 2,500 parts each of 8, 16, 32 and 64 MiB
		t.Errorf("largest object %d MiB, want 300,000", total>>20)
	}
	if got := (PartPlan{Size: 1 << 30, MaxParts: 8, MaxSize: 3 << 30}).PartSize(8); got != 3<<30 {
		t.Errorf("PartSize above MaxSize: %d", got)
	}
}

// TestLateBound checks lateBound against its definition: the largest key of a folder
// that sorts, by name, before name but is listed after it.
func TestLateBound(t *testing.T) {
	for _, name := range []string{"a", "report.pdf", "a b-c.d", "abc", "x.y.z/", "ab!"} {
		var keys []string
		for i := 1; i < len(name); i++ {
			if d := name[:i]; d < name && d+"/" > name {
				keys = append(keys, d+"/")
			}
		}
		want := ""
		if len(keys) > 0 {
			sort.Strings(keys)
			want = keys[len(keys)-1]
		}
		if got := lateBound(name); got != want {
			t.Errorf("lateBound(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestPartBuffers checks that buffers are reused, and that those past the idle ones
// kept stay usable after their memory went back to the system.
func TestPartBuffers(t *testing.T) {
	p := partBuffers{size: 1 << 20, keep: 1}
	a, b := p.get(), p.get()
	if len(a) != 1<<20 || cap(b) != 1<<20 || &a[0] == &b[0] {
		t.Fatalf("get: two buffers of %d and %d bytes at %p, %p", len(a), cap(b), &a[0], &b[0])
	}
	a[0], b[0] = 1, 2
	p.put(a[:10])
	p.put(b[:0])
	if len(p.idle) != 1 || len(p.released)+len(p.idle) > 2 {
		t.Fatalf("after two puts: %d idle, %d released; want 1 idle", len(p.idle), len(p.released))
	}
	c, d := p.get(), p.get()
	if c[0] != 1 || len(c) != 1<<20 {
		t.Errorf("the idle buffer came back as %d bytes starting %d, want the first one", len(c), c[0])
	}
	if len(p.released) == 1 && (&d[0] != &b[0] || len(d) != 1<<20) {
		t.Errorf("the released buffer was not reused")
	}
	d[len(d)-1] = 3 // writable again
}

// TestPartMemory checks that PartMemory follows the buffers mapped outside the heap:
// up while in use or idle, down when their memory goes back to the system.
func TestPartMemory(t *testing.T) {
	const size = 1 << 20
	p := partBuffers{size: size, keep: 1}
	start := PartMemory()
	a, b := p.get(), p.get()
	got := PartMemory() - start
	if got == 0 {
		t.Skip("no anonymous mappings here: part buffers are on the heap")
	}
	if got != 2*size {
		t.Fatalf("two buffers in use: PartMemory grew by %d, want %d", got, 2*size)
	}
	p.put(a)
	p.put(b) // past keep: released
	if got := PartMemory() - start; got != size {
		t.Errorf("one idle, one released: PartMemory is %d above the start, want %d", got, size)
	}
	c, d := p.get(), p.get()
	if got := PartMemory() - start; got != 2*size {
		t.Errorf("both reused: PartMemory is %d above the start, want %d", got, 2*size)
	}
	p.put(c)
	p.put(d)
}
