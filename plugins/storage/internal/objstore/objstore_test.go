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
