package hostapi

import (
	"errors"
	"io/fs"
	"syscall"
	"testing"
)

func TestCompatible(t *testing.T) {
	for _, c := range []struct {
		host, plugin string
		ok           bool
	}{
		{"1.0", "1.0", true}, {"1.2", "1.1", true}, {"1.0", "1.1", false}, {"1.0", "2.0", false},
		{"1.0", "", false}, {"1.0", "1", false}, {"1.0", "x.y", false},
	} {
		if got := Compatible(c.host, c.plugin); got != c.ok {
			t.Errorf("Compatible(%q, %q) = %v", c.host, c.plugin, got)
		}
	}
}

// TestCodeOfSpecificFirst: an error matching several sentinels gets the most specific
// code (syscall.ENOTEMPTY also matches fs.ErrExist).
func TestCodeOfSpecificFirst(t *testing.T) {
	err := &fs.PathError{Op: "rename", Path: "/d", Err: syscall.ENOTEMPTY}
	if !errors.Is(err, fs.ErrExist) {
		t.Skip("ENOTEMPTY no longer matches fs.ErrExist")
	}
	if got := CodeOf(joinNotEmpty{err}); got != CodeNotEmpty {
		t.Errorf("CodeOf = %d, want CodeNotEmpty", got)
	}
}

// joinNotEmpty is how backends classify ENOTEMPTY: it matches ErrNotEmpty and keeps
// the errno.
type joinNotEmpty struct{ err error }

func (e joinNotEmpty) Error() string   { return e.err.Error() }
func (e joinNotEmpty) Unwrap() []error { return []error{ErrNotEmpty, e.err} }
