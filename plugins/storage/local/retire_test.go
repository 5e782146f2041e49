package local

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeepReplaced: a large regular file gets a second, hidden name (so that the
// rename replacing it does not free it); a small one, a folder or nothing does not.
func TestKeepReplaced(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	os.WriteFile(filepath.Join(dir, "big"), make([]byte, retireMin), 0o644)
	os.WriteFile(filepath.Join(dir, "small"), make([]byte, retireMin-1), 0o644)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	name := keepReplaced(s.root, "big")
	if !strings.HasPrefix(name, TempPrefix) {
		t.Fatalf("keepReplaced(big) = %q", name)
	}
	a, _ := os.Stat(filepath.Join(dir, "big"))
	b, err := os.Stat(filepath.Join(dir, name))
	if err != nil || !os.SameFile(a, b) {
		t.Fatalf("hidden name is not the same file: %v", err)
	}
	for _, rel := range []string{"small", "sub", "missing"} {
		if got := keepReplaced(s.root, rel); got != "" {
			t.Errorf("keepReplaced(%s) = %q, want none", rel, got)
		}
	}
	s.retire(name)
	s.retiring.Wait()
	if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
		t.Fatalf("retired name still there: %v", err)
	}
}
