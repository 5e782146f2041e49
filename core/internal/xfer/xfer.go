// Package xfer adapts the virtual filesystem to what the FTP and SFTP front ends'
// libraries expect: fs.FileInfo values, client-facing errors, folder listings read a
// page at a time, and file handles that stream downloads and uploads through vfs.
package xfer

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"time"

	"github.com/filegate/filegate/core/vfs"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// FileInfo is a hostapi.FileInfo seen as an fs.FileInfo.
type FileInfo struct{ hostapi.FileInfo }

var _ fs.FileInfo = FileInfo{}

// Name returns the base name, "/" for the root.
func (fi FileInfo) Name() string {
	if fi.FileInfo.Name == "" {
		return "/"
	}
	return fi.FileInfo.Name
}

// Size returns the length in bytes (0 for folders).
func (fi FileInfo) Size() int64 { return fi.FileInfo.Size }

// Mode returns 0755 folders and 0644 files: the storage has no permission bits.
func (fi FileInfo) Mode() fs.FileMode {
	if fi.FileInfo.IsDir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}

// ModTime returns the last modification time.
func (fi FileInfo) ModTime() time.Time { return fi.FileInfo.ModTime }

// IsDir reports whether it is a folder.
func (fi FileInfo) IsDir() bool { return fi.FileInfo.IsDir }

// Sys returns nil.
func (fi FileInfo) Sys() any { return nil }

// ErrFailed is the kind of a failure that is none of the kinds a client may be told.
var ErrFailed = errors.New("operation failed")

// kinds are the causes a client is told about, in order of precedence.
var kinds = []error{
	hostapi.ErrPermission, hostapi.ErrNotExist, hostapi.ErrExist, hostapi.ErrNotDir,
	hostapi.ErrIsDir, hostapi.ErrNotEmpty, hostapi.ErrInvalid, errors.ErrUnsupported,
}

// Error is what a client is told about a failed operation: the operation, the path
// as the client named it and the kind of failure — never the chroot, a backend path
// or a backend's own message. It unwraps to the kind (hostapi.ErrNotExist, ...,
// ErrFailed, or a *vfs.RefusedError, which matches hostapi.ErrPermission), so
// protocol libraries can choose their status codes with errors.Is.
type Error struct {
	Op   string
	Path string
	Kind error
}

// Error returns "op path: kind".
func (e *Error) Error() string { return e.Op + " " + e.Path + ": " + e.Kind.Error() }

// Unwrap returns the kind.
func (e *Error) Unwrap() error { return e.Kind }

// KindOf returns the client-facing kind of err: one of the hostapi errors,
// errors.ErrUnsupported, or ErrFailed.
func KindOf(err error) error {
	for _, k := range kinds {
		if errors.Is(err, k) {
			return k
		}
	}
	return ErrFailed
}

// Fail logs err, the full cause of operation op on the client path p, and returns the
// *Error to tell the client. Failures of an unknown kind are logged as warnings, the
// others (a missing file, a right the account lacks) at debug level. It returns nil
// for a nil err.
func Fail(ctx context.Context, log *slog.Logger, op, p string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e // already told
	}
	kind := KindOf(err)
	level := slog.LevelDebug
	if kind == ErrFailed {
		level = slog.LevelWarn
	}
	log.Log(ctx, level, "operation failed", "op", op, "path", p, "err", err)
	if r := vfs.Refusal(err); r != nil {
		kind = r // a policy's reason is meant for the client
	}
	return &Error{Op: op, Path: p, Kind: kind}
}
