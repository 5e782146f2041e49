// Package storeutil holds what the first-party storage backends share: path checks,
// error kinds and bounded-memory list paging.
package storeutil

import (
	"fmt"
	"path"
	"strings"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// CheckPath reports an error wrapping hostapi.ErrInvalid unless name is a clean,
// absolute, slash-separated path, as the host API promises backends.
func CheckPath(name string) error {
	if name == "" || name[0] != '/' || path.Clean(name) != name || strings.ContainsRune(name, 0) {
		return fmt.Errorf("path %q is not clean and absolute: %w", name, hostapi.ErrInvalid)
	}
	return nil
}

// IsWithin reports whether name is dir itself or lies below it. Both are clean and
// absolute.
func IsWithin(name, dir string) bool {
	return name == dir || dir == "/" || strings.HasPrefix(name, dir+"/")
}

// kindError adds a hostapi error kind to an error without changing its message.
type kindError struct {
	err, kind error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.err, e.kind} }

// WithKind returns err, also matching kind with errors.Is. It returns nil for a nil err.
func WithKind(err, kind error) error {
	if err == nil {
		return nil
	}
	return &kindError{err: err, kind: kind}
}
