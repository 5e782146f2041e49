package xfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/filegate/filegate/core/vfs"
)

// Out-of-order reads: SFTP servers answer read requests from several workers, so a
// request for the next chunk may reach ReadAt just before the one for the current
// chunk. ReadAt waits up to reorderWait for the stream to reach an offset at most
// reorderWindow ahead; past that it reopens the stream where the client asked.
const (
	reorderWindow = 4 << 20
	reorderWait   = 500 * time.Millisecond
)

// Download is a file being read by a client through one vfs stream (so one
// file.downloaded event), reopened only when the client jumps elsewhere. Read and
// Seek serve sequential clients (FTP), ReadAt serves clients that read at offsets,
// possibly concurrently and slightly out of order (SFTP).
type Download struct {
	ctx  context.Context
	log  *slog.Logger
	fs   *vfs.FS
	path string

	mu      sync.Mutex
	rc      *vfs.Reader // nil until the first read, or after a jump
	pos     int64       // offset of the next byte rc gives
	eof     bool        // rc reached the end of the file at pos
	closed  bool
	waiters []*waiter // ReadAt calls waiting for pos to reach their offset

	// broadcast wakes every waiter whenever pos moves, as Download did before
	// waiters had their own channel (benchmark baseline).
	broadcast bool
}

// waiter is a ReadAt call waiting for the stream to reach off.
type waiter struct {
	off   int64
	ready chan struct{} // closed when the wait is over (see Download.wake)
}

// Open starts a download of the client path p at offset. It opens the file at once,
// so a missing file or a missing right is reported here. Its errors, and those of the
// Download's methods, are client-facing (see Fail); causes go to log.
func Open(ctx context.Context, log *slog.Logger, fsys *vfs.FS, p string, offset int64) (*Download, error) {
	d := &Download{ctx: ctx, log: log, fs: fsys, path: p, pos: offset}
	if err := d.reopen(offset); err != nil {
		return nil, err
	}
	return d, nil
}

// reopen replaces the stream with one starting at off; d.mu is held (or d is new).
func (d *Download) reopen(off int64) error {
	if d.rc != nil {
		d.rc.Close() // records what was read so far
		d.rc = nil
	}
	rc, err := d.fs.Open(d.ctx, d.path, off)
	if err != nil {
		return Fail(d.ctx, d.log, "open", d.path, err)
	}
	d.rc, d.eof = rc, false
	d.setPos(off)
	return nil
}

// setPos moves pos and wakes the ReadAt calls waiting for it; d.mu is held.
func (d *Download) setPos(off int64) {
	if off == d.pos {
		return
	}
	d.pos = off
	d.wake()
}

// advance records that rc gave n more bytes, and reached the end of the file when
// eof; d.mu is held.
func (d *Download) advance(n int64, eof bool) {
	d.pos += n
	d.eof = d.eof || eof
	if n != 0 || eof {
		d.wake()
	}
}

// wake ends the waits that are over: those for an offset the stream has reached, or
// all of them once the file ended or the download closed. Only those waiters run
// again: with pkg/sftp's 8 workers reading ahead, a step of the stream wakes the one
// worker whose chunk comes next rather than all of them. d.mu is held.
func (d *Download) wake() {
	all := d.eof || d.closed || d.broadcast
	kept := d.waiters[:0]
	for _, w := range d.waiters {
		if all || w.off <= d.pos {
			close(w.ready)
		} else {
			kept = append(kept, w)
		}
	}
	clear(d.waiters[len(kept):])
	d.waiters = kept
}

// ready fails after Close and (re)opens the storage reader at the stream's position
// when there is none; d.mu is held.
func (d *Download) ready() error {
	if d.closed {
		return fs.ErrClosed
	}
	if d.rc == nil {
		return d.reopen(d.pos)
	}
	return nil
}

// Read reads the next bytes of the file.
func (d *Download) Read(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.ready(); err != nil {
		return 0, err
	}
	n, err := d.rc.Read(p)
	d.advance(int64(n), err == io.EOF)
	if err == io.EOF {
		return n, err
	}
	return n, Fail(d.ctx, d.log, "read", d.path, err)
}

// WriteTo sends the rest of the file to w (io.Copy prefers it to Read): straight from
// the file with sendfile when w is a TCP connection and the storage a local disk (see
// vfs.Reader.WriteTo), otherwise in large chunks. An error is reported to the client
// as an interrupted transfer: it may be the storage's or the connection's.
func (d *Download) WriteTo(w io.Writer) (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.ready(); err != nil {
		return 0, err
	}
	n, err := d.rc.WriteTo(w)
	d.advance(n, err == nil)
	if err != nil {
		d.log.Debug("download interrupted", "path", d.path, "sent", n, "err", err)
		return n, &Error{Op: "read", Path: d.path, Kind: ErrInterrupted}
	}
	return n, nil
}

// Seek sets where the next Read starts. Only io.SeekStart and io.SeekCurrent are
// supported; a new position reopens the stream on the next Read.
func (d *Download) Seek(offset int64, whence int) (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += d.pos
	default:
		return d.pos, fmt.Errorf("xfer: seek from the end of %s: %w", d.path, errors.ErrUnsupported)
	}
	if offset < 0 {
		return d.pos, fmt.Errorf("xfer: seek to %d: %w", offset, fs.ErrInvalid)
	}
	if offset != d.pos && d.rc != nil {
		d.rc.Close()
		d.rc = nil
	}
	d.setPos(offset)
	return offset, nil
}

// ReadAt reads len(p) bytes at off, or fewer with io.EOF at the end of the file.
func (d *Download) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("xfer: read at %d: %w", off, fs.ErrInvalid)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.waitFor(off)
	switch {
	case d.closed:
		return 0, fs.ErrClosed
	case d.eof && off >= d.pos:
		return 0, io.EOF
	case d.rc == nil || off != d.pos:
		if err := d.reopen(off); err != nil {
			return 0, err
		}
	}
	n, err := io.ReadFull(d.rc, p)
	eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
	d.advance(int64(n), eof)
	if eof {
		return n, io.EOF
	}
	return n, Fail(d.ctx, d.log, "read", d.path, err)
}

// waitFor waits, releasing d.mu meanwhile, until the stream reaches off or cannot
// soon: off is behind or too far ahead, the file ended, the wait timed out, or the
// context ended. d.mu is held.
func (d *Download) waitFor(off int64) {
	if off <= d.pos || off-d.pos > reorderWindow || d.eof || d.rc == nil {
		return
	}
	timer := time.NewTimer(reorderWait)
	defer timer.Stop()
	for off > d.pos && !d.eof && !d.closed {
		w := &waiter{off: off, ready: make(chan struct{})}
		d.waiters = append(d.waiters, w)
		d.mu.Unlock()
		select {
		case <-w.ready:
			d.mu.Lock()
		case <-timer.C:
			d.mu.Lock()
			d.forget(w)
			return
		case <-d.ctx.Done():
			d.mu.Lock()
			d.forget(w)
			return
		}
	}
}

// forget removes w from the waiters if it is still there; d.mu is held.
func (d *Download) forget(w *waiter) {
	if i := slices.Index(d.waiters, w); i >= 0 {
		d.waiters = slices.Delete(d.waiters, i, i+1)
	}
}

// Close ends the download, recording file.downloaded. It may be called more than
// once.
func (d *Download) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	d.wake()
	if d.rc == nil {
		return nil
	}
	return Fail(d.ctx, d.log, "close", d.path, d.rc.Close())
}
