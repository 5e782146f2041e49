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

	mu     sync.Mutex
	rc     io.ReadCloser // nil until the first read, or after a jump
	pos    int64         // offset of the next byte rc gives
	eof    bool          // rc reached the end of the file at pos
	moved  chan struct{} // closed (and replaced) whenever pos moves
	closed bool
}

// Open starts a download of the client path p at offset. It opens the file at once,
// so a missing file or a missing right is reported here. Its errors, and those of the
// Download's methods, are client-facing (see Fail); causes go to log.
func Open(ctx context.Context, log *slog.Logger, fsys *vfs.FS, p string, offset int64) (*Download, error) {
	d := &Download{ctx: ctx, log: log, fs: fsys, path: p, pos: offset, moved: make(chan struct{})}
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
	close(d.moved)
	d.moved = make(chan struct{})
}

// Read reads the next bytes of the file.
func (d *Download) Read(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return 0, fs.ErrClosed
	}
	if d.rc == nil {
		if err := d.reopen(d.pos); err != nil {
			return 0, err
		}
	}
	n, err := d.rc.Read(p)
	d.setPos(d.pos + int64(n))
	if err == io.EOF {
		d.eof = true
		return n, err
	}
	return n, Fail(d.ctx, d.log, "read", d.path, err)
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
	d.setPos(d.pos + int64(n))
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		d.eof = true
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
		moved := d.moved
		d.mu.Unlock()
		select {
		case <-moved:
			d.mu.Lock()
		case <-timer.C:
			d.mu.Lock()
			return
		case <-d.ctx.Done():
			d.mu.Lock()
			return
		}
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
	close(d.moved)
	d.moved = make(chan struct{})
	if d.rc == nil {
		return nil
	}
	return Fail(d.ctx, d.log, "close", d.path, d.rc.Close())
}
