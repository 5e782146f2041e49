package storeutil

import (
	"errors"
	"fmt"
	"testing"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

func TestPagerLimits(t *testing.T) {
	for _, tc := range []struct{ limit, want int }{{0, DefaultLimit}, {-3, DefaultLimit}, {5, 5}, {MaxLimit + 1, MaxLimit}} {
		p, err := NewPager[int](hostapi.ListOptions{Limit: tc.limit})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 12000 {
			p.Add(fmt.Sprintf("n%05d", 11999-i), false, i)
		}
		entries, next := p.Page()
		if len(entries) != tc.want || next != EncodeCursor(entries[len(entries)-1].Name) {
			t.Errorf("limit %d: %d entries, next %q; want %d", tc.limit, len(entries), next, tc.want)
		}
		if entries[0].Name != "n00000" || entries[0].Value != 11999 {
			t.Errorf("limit %d: first entry %+v", tc.limit, entries[0])
		}
	}
}

func TestPagerErrors(t *testing.T) {
	for _, opts := range []hostapi.ListOptions{{DirsOnly: true, FilesOnly: true}, {Cursor: "***"}} {
		if _, err := NewPager[int](opts); !errors.Is(err, hostapi.ErrInvalid) {
			t.Errorf("NewPager(%+v): %v, want ErrInvalid", opts, err)
		}
	}
}
