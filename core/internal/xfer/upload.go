package xfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/filegate/filegate/core/vfs"
)

// maxReorder bounds the bytes an Upload holds back in memory while waiting for an
// earlier write, on storage that can only append. SFTP writes arrive out of order
// mostly by the few chunks its workers have in flight; writes further ahead go to a
// spill file (see reorder).
const maxReorder = 16 << 20

// ErrInterrupted is reported to Close (through TransferError) when the client went
// away or the transfer broke before the upload ended.
var ErrInterrupted = errors.New("transfer interrupted")

// Upload is a file being written by a client. Nothing is visible at its path until
// Close, which commits the upload only when every write succeeded and no transfer
// error was reported; otherwise it discards it. Its methods may be called
// concurrently.
type Upload struct {
	ctx  context.Context
	log  *slog.Logger
	fs   *vfs.FS
	path string
	w    *vfs.Writer

	mu     sync.Mutex
	failed error     // first write or transfer error: Close aborts
	next   int64     // with an append-only backend, where the next Write goes
	ahead  *reorder  // with an append-only backend, writes past next
	mtime  time.Time // set on the file after commit, when not zero
	closed bool
}

// Create starts an upload to the client path p (see vfs.FS.Create). Its errors, and
// those of the Upload's methods, are client-facing (see Fail); causes go to log.
func Create(ctx context.Context, log *slog.Logger, fsys *vfs.FS, p string, opts vfs.CreateOptions) (*Upload, error) {
	w, err := fsys.Create(ctx, p, opts)
	if err != nil {
		return nil, Fail(ctx, log, "create", p, err)
	}
	return &Upload{ctx: ctx, log: log, fs: fsys, path: p, w: w, next: opts.Offset, ahead: newReorder("", maxReorder, maxSpill)}, nil
}

// Write appends b.
func (u *Upload) Write(b []byte) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if err := u.usable(); err != nil {
		return 0, err
	}
	n, err := u.w.Write(b)
	u.next += int64(n)
	return n, u.fail(err)
}

// ReadFrom appends what r yields until EOF, through vfs.Writer.ReadFrom: read straight
// into the hash's buffers, each byte copied once. It holds the upload for the whole
// copy, as Write holds it for one chunk (FTP, which calls it, makes no other call
// meanwhile). An error reading r ends the upload as TransferError does.
func (u *Upload) ReadFrom(r io.Reader) (int64, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if err := u.usable(); err != nil {
		return 0, err
	}
	src := &source{r: r}
	n, err := u.w.ReadFrom(src)
	u.next += n
	if err != nil && err == src.err {
		u.interrupt(err)
		return n, err
	}
	return n, u.fail(err)
}

// source remembers the error its reader returned, which tells a broken transfer from a
// failed write.
type source struct {
	r   io.Reader
	err error
}

func (s *source) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// WriteAt writes b at off. On storage that cannot write out of order, writes ahead of
// the end are held back until the bytes before them arrive: in memory up to a bound,
// past it in a temporary file.
func (u *Upload) WriteAt(b []byte, off int64) (int, error) {
	if u.w.CanWriteAt() {
		u.mu.Lock()
		err := u.usable()
		u.mu.Unlock()
		if err != nil {
			return 0, err
		}
		n, err := u.w.WriteAt(b, off)
		if err != nil {
			u.mu.Lock()
			err = u.fail(err)
			u.mu.Unlock()
		}
		return n, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if err := u.usable(); err != nil {
		return 0, err
	}
	switch {
	case off < u.next:
		return 0, u.fail(fmt.Errorf("xfer: rewrite at %d before %d on append-only storage: %w", off, u.next, errors.ErrUnsupported))
	case off > u.next:
		if err := u.ahead.put(off, b); err != nil {
			return 0, u.fail(err)
		}
		return len(b), nil
	}
	n, err := u.w.Write(b)
	u.next += int64(n)
	if err != nil {
		return n, u.fail(err)
	}
	for {
		p, ok, err := u.ahead.take(u.next)
		if err != nil {
			return n, u.fail(err)
		}
		if !ok {
			return n, nil
		}
		m, err := u.w.Write(p)
		u.next += int64(m)
		if err != nil {
			return n, u.fail(err)
		}
	}
}

// usable returns why the upload takes no more writes; u.mu is held.
func (u *Upload) usable() error {
	switch {
	case u.closed:
		return fs.ErrClosed
	case u.failed != nil:
		return u.failed
	}
	return nil
}

// fail remembers the first error, so that Close aborts, and returns err as the client
// sees it; u.mu is held.
func (u *Upload) fail(err error) error {
	if err == nil {
		return nil
	}
	err = Fail(u.ctx, u.log, "write", u.path, err)
	if u.failed == nil {
		u.failed = err
	}
	return err
}

// TransferError reports that the transfer broke: Close will discard the upload.
// Both ftpserverlib and pkg/sftp call it.
func (u *Upload) TransferError(err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.interrupt(err)
}

// interrupt makes Close discard the upload, err having broken the transfer; u.mu is
// held.
func (u *Upload) interrupt(err error) {
	if u.failed == nil {
		u.log.Debug("upload interrupted", "path", u.path, "err", err)
		u.failed = &Error{Op: "write", Path: u.path, Kind: ErrInterrupted}
	}
}

// SetModTime sets the modification time the file gets once committed (a client
// setting times on a file it is still writing).
func (u *Upload) SetModTime(t time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.mtime = t
}

// Close commits the upload, or discards it if a write or the transfer failed or
// writes are still held back. It may be called more than once.
func (u *Upload) Close() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return nil
	}
	u.closed = true
	if writes, bytes := u.ahead.pending(); u.failed == nil && writes > 0 {
		u.fail(fmt.Errorf("xfer: %d bytes past a gap at %d never filled: %w", bytes, u.next, ErrInterrupted))
	}
	if err := u.ahead.close(); err != nil {
		u.log.Warn("upload reorder buffer", "path", u.path, "err", err)
	}
	if u.failed != nil {
		if err := u.w.Abort(); err != nil {
			u.log.Warn("discarding an upload", "path", u.path, "err", err)
		}
		return u.failed
	}
	if _, err := u.w.Commit(u.ctx); err != nil {
		return Fail(u.ctx, u.log, "commit", u.path, err)
	}
	if !u.mtime.IsZero() {
		err := u.fs.Chtimes(u.ctx, u.path, u.mtime)
		if errors.Is(err, errors.ErrUnsupported) {
			// Object storage keeps its own times; the upload itself succeeded.
			u.log.Debug("storage cannot keep the client's modification time", "path", u.path)
			return nil
		}
		return Fail(u.ctx, u.log, "set times", u.path, err)
	}
	return nil
}

var _ io.WriterAt = (*Upload)(nil)
