package httpapi

import (
	"encoding/json"
	"path"
	"testing"
	"time"

	"github.com/filegate/filegate/core/store"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// The hand-written encoders must produce what encoding/json would decode back to the
// same values, for any name.
func FuzzAppendJSON(f *testing.F) {
	for _, s := range []string{"plain", "with \"quotes\" and \\", "tab\tnl\n", "\x00\x1f", "ünï cödé", "\u2028\u2029", "\xff\xfe bad utf8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		mod := time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.UTC)
		pg := hostapi.ListPage{Entries: []hostapi.FileInfo{{Name: name, Size: 42, ModTime: mod}, {Name: "d", IsDir: true, ModTime: mod}}, NextCursor: name}
		var got cursorList
		if err := json.Unmarshal(appendCursorList(nil, "/base", 7, pg), &got); err != nil {
			t.Fatalf("listing of %q is not JSON: %v", name, err)
		}
		var want cursorList
		js, _ := json.Marshal(cursorList{Limit: 7, NextCursor: name, Data: []entry{
			{Name: name, Path: path.Join("/base", name), Type: "file", Size: 42, Modified: mod}, {Name: "d", Path: "/base/d", Type: "dir", Modified: mod}}})
		json.Unmarshal(js, &want)
		if got.Data[0] != want.Data[0] || got.Data[1] != want.Data[1] || got.NextCursor != want.NextCursor || got.Limit != 7 {
			t.Fatalf("name %q: hand-encoded %+v, encoding/json %+v", name, got, want)
		}
		var te treeEntry
		if err := json.Unmarshal(appendTreeEntry(nil, name, store.TreeEntry{Type: "file", Account: name, Modified: mod.UnixMilli()}), &te); err != nil {
			t.Fatalf("tree entry of %q is not JSON: %v", name, err)
		}
		var wantName string
		b, _ := json.Marshal(name)
		json.Unmarshal(b, &wantName)
		if te.Path != wantName || te.Account != wantName {
			t.Fatalf("tree entry path %q, want %q", te.Path, wantName)
		}
	})
}
