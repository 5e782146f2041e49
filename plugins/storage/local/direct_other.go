//go:build !linux

package local

import (
	"errors"
	"os"
)

// openDirect fails: direct writes are used on Linux only.
var openDirect = func(*os.Root, string) (*os.File, error) {
	return nil, errors.ErrUnsupported
}
