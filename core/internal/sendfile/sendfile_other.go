//go:build !linux

package sendfile

import (
	"errors"
	"io"
	"net"
	"syscall"
)

// blocking sends nothing where blocking sendfile has not been measured: ToTCP leaves
// the whole file to Go's sendfile.
func blocking(*net.TCPConn, io.Reader) (int64, bool) { return 0, false }

// setCork refuses: TCP_CORK is Linux's (BSD's TCP_NOPUSH behaves otherwise).
func setCork(syscall.RawConn, bool) error { return errors.ErrUnsupported }
