package vfs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net"
	"path"
	"sync"
	"syscall"
	"time"

	"github.com/filegate/filegate/core/internal/iobuf"
	"github.com/filegate/filegate/core/internal/sendfile"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// maxPending bounds the out-of-order bytes a Writer keeps to hash in order; past it,
// Commit reads the rest back from the upload.
const maxPending = 8 << 20

// Sums is implemented by a Journal that keeps each file's SHA-256 (core/store's
// metadata tree). A download from the start of a file whose size and modification time
// (to the millisecond) still match the row takes the SHA-256 for its event from there
// instead of hashing the bytes; any other is hashed as it is read.
type Sums interface {
	// FileSum returns what is recorded for the file at the tenant path p; sum is ""
	// when nothing is.
	FileSum(ctx context.Context, tenantID int64, p string) (size int64, modified time.Time, sum string, err error)
}

// localFile is what a backend's reader offers when it reads a local file (the local
// backend returns the *os.File itself): its size and modification time, to match the
// metadata tree, and a descriptor the kernel can send from (sendfile).
type localFile interface {
	io.ReadCloser
	syscall.Conn
	Stat() (fs.FileInfo, error)
}

// Open reads the file p from offset. Closing the reader records file.downloaded with
// the bytes transferred (and the file's SHA-256 when the whole file was read). It
// needs the Read right.
func (f *FS) Open(ctx context.Context, p string, offset int64) (*Reader, error) {
	t, err := f.resolve("open", p, f.session.Rights.Read, "read")
	if err != nil {
		return nil, err
	}
	if err := f.authorize(ctx, hostapi.ActionDownload, t, "", -1); err != nil {
		return nil, err
	}
	rc, err := f.backend.Open(ctx, t.backend, offset)
	if err != nil {
		return nil, t.fail("open", err)
	}
	r := &Reader{rc: rc, fs: f, ctx: ctx, tenant: t.tenant, offset: offset, size: -1}
	var mtime time.Time
	if lf, ok := rc.(localFile); ok {
		if fi, err := lf.Stat(); err == nil && fi.Mode().IsRegular() {
			r.file, r.size, mtime = lf, fi.Size(), fi.ModTime()
		}
	}
	if offset != 0 {
		return r, nil
	}
	if r.file != nil {
		r.sum = f.recordedSum(ctx, t.tenant, r.size, mtime)
	}
	if r.sum == "" {
		r.hash = sha256.New()
	}
	return r, nil
}

// recordedSum returns the SHA-256 the journal holds for the file at the tenant path p
// if its row matches size and mtime, else "".
func (f *FS) recordedSum(ctx context.Context, p string, size int64, mtime time.Time) string {
	s, ok := f.journal.(Sums)
	if !ok {
		return ""
	}
	rsize, rmtime, sum, err := s.FileSum(ctx, f.session.TenantID, p)
	if err != nil || rsize != size || rmtime.UnixMilli() != mtime.UnixMilli() {
		return "" // unknown, or changed since it was recorded: hash it
	}
	return sum
}

// Reader is a file being downloaded. It counts what is read and, from offset 0, knows
// or computes the file's SHA-256, and records file.downloaded once, on Close.
type Reader struct {
	rc     io.ReadCloser
	file   localFile // rc, when it reads a local regular file
	fs     *FS
	ctx    context.Context // for recording on Close (record ignores its cancellation)
	tenant string
	offset int64
	size   int64     // the file's size when file is set, else -1
	sum    string    // the SHA-256 the journal holds for this version of the file
	hash   hash.Hash // nil when not reading from the start, or when sum is known
	n      int64
	eof    bool
	once   sync.Once
}

// Read reads the next bytes of the file.
func (r *Reader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.n += int64(n)
	if r.hash != nil {
		r.hash.Write(p[:n])
	}
	if err == io.EOF {
		r.eof = true
	}
	return n, err
}

// WriteTo writes the rest of the file to w. When the storage reads a local file and no
// byte needs hashing (the journal knows the SHA-256, or the download does not start
// at 0), the kernel sends it without copying it through user space: to a
// *net.TCPConn with sendfile.ToTCP, to another io.ReaderFrom (a buffered writer over
// a connection) with its ReadFrom. Otherwise it copies in iobuf.ChunkSize chunks.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	if r.file == nil || r.hash != nil {
		return iobuf.Copy(w, r)
	}
	var n int64
	var err error
	switch w := w.(type) {
	case *net.TCPConn:
		n, err = sendfile.ToTCP(w, r.file)
	case io.ReaderFrom:
		n, err = w.ReadFrom(r.file)
	default:
		return iobuf.Copy(w, r)
	}
	r.n += n
	return n, err
}

// Close closes the backend reader and records file.downloaded.
func (r *Reader) Close() error {
	err := r.rc.Close()
	r.once.Do(func() {
		ev := r.fs.event(hostapi.EventFileDownloaded, r.tenant)
		ev.Size = r.n
		whole := r.offset == 0 && (r.eof || r.n == r.size)
		switch {
		case !whole:
		case r.sum != "" && r.n == r.size:
			ev.SHA256 = r.sum
		case r.hash != nil:
			ev.SHA256 = hex.EncodeToString(r.hash.Sum(nil))
		}
		err = errors.Join(err, r.fs.record(r.ctx, ev))
	})
	return err
}

// CreateOptions tune FS.Create.
type CreateOptions struct {
	// Overwrite replaces an existing file; without it an existing file is an error
	// wrapping hostapi.ErrExist and nothing is written.
	Overwrite bool
	// MakeParents creates missing parent folders (recording dir.created for each).
	MakeParents bool
	// Offset resumes or appends: the first Offset bytes of the existing file are copied
	// into the new upload before the client's bytes, and the file is replaced whatever
	// Overwrite says. The file must hold at least Offset bytes.
	Offset int64
	// Size is the size the client announced for the whole file, for the Authorizer;
	// 0 means unknown. Unless it was announced and is right, the Authorizer is asked
	// again with the final size before Commit makes the file visible.
	Size int64
}

// Create starts an upload to the file p. Nothing is visible at p until Commit. It
// needs the Write right.
func (f *FS) Create(ctx context.Context, p string, opts CreateOptions) (*Writer, error) {
	t, err := f.resolve("create", p, f.session.Rights.Write, "write")
	if err != nil {
		return nil, err
	}
	switch {
	case t.isRoot:
		return nil, t.deny("create", hostapi.ErrIsDir)
	case opts.Offset < 0:
		return nil, t.deny("create", fmt.Errorf("negative offset %d: %w", opts.Offset, hostapi.ErrInvalid))
	}
	announced := opts.Size
	if announced <= 0 {
		announced = -1
	}
	if err := f.authorize(ctx, hostapi.ActionUpload, t, "", announced); err != nil {
		return nil, err
	}
	if opts.MakeParents {
		if err := f.mkdirAll(ctx, path.Dir(t.tenant)); err != nil {
			return nil, err
		}
	}
	fi, err := f.backend.Stat(ctx, t.backend)
	switch {
	case err == nil && fi.IsDir:
		return nil, t.deny("create", hostapi.ErrIsDir)
	case err == nil && !opts.Overwrite && opts.Offset == 0:
		return nil, t.deny("create", hostapi.ErrExist)
	case err == nil && fi.Size < opts.Offset:
		return nil, t.deny("create", fmt.Errorf("offset %d is past the end of the file (%d bytes): %w", opts.Offset, fi.Size, hostapi.ErrInvalid))
	case err != nil && (opts.Offset > 0 || !errors.Is(err, hostapi.ErrNotExist)):
		return nil, t.fail("create", err)
	}
	up, err := f.backend.Create(ctx, t.backend)
	if err != nil {
		return nil, t.fail("create", err)
	}
	w := &Writer{
		fs:        f,
		up:        up,
		t:         t,
		noClobber: !opts.Overwrite && opts.Offset == 0,
		announced: announced,
		hash:      newHasher(),
	}
	w.at, _ = up.(io.WriterAt)
	w.ra, _ = up.(io.ReaderAt)
	if opts.Offset > 0 {
		if err := w.copyPrefix(ctx, opts.Offset); err != nil {
			up.Abort()
			return nil, t.fail("create", err)
		}
	}
	return w, nil
}

// Writer is an upload in progress. It computes the SHA-256 of the file while the bytes
// stream through. Exactly one of Commit or Abort must be called. Its methods may be
// called concurrently; writes are applied one at a time.
type Writer struct {
	fs        *FS
	up        hostapi.Upload
	at        io.WriterAt // nil when the backend's upload is not one
	ra        io.ReaderAt // nil when the backend's upload is not one
	t         target
	noClobber bool  // fail at Commit if a file appeared at the target meanwhile
	announced int64 // the size the Authorizer allowed at Create, -1 if unknown

	mu           sync.Mutex
	hash         *hasher
	hashed       int64            // bytes [0, hashed) are in hash
	pending      map[int64][]byte // bytes written past hashed, waiting their turn
	pendingBytes int
	unordered    bool  // gave up hashing in order: Commit reads back from hashed
	pos          int64 // where the next Write goes
	size         int64 // the end of the furthest write
	done         bool
}

// copyPrefix copies the first n bytes of the existing file into the upload.
func (w *Writer) copyPrefix(ctx context.Context, n int64) error {
	rc, err := w.fs.backend.Open(ctx, w.t.backend, 0)
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, err := io.CopyN(w, rc, n); err != nil {
		return fmt.Errorf("copy the first %d bytes: %w", n, err)
	}
	return nil
}

// CanWriteAt reports whether WriteAt works: whether the backend accepts writes out of
// order.
func (w *Writer) CanWriteAt() bool { return w.at != nil }

// Write appends p to the upload.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return 0, w.t.deny("write", fs.ErrClosed)
	}
	n, err := w.writeHashing(p, w.pos, w.up.Write)
	w.pos += int64(n)
	if err != nil {
		return n, w.t.fail("write", err)
	}
	return n, nil
}

// ReadFrom appends what r yields until EOF, reading it straight into the hash's
// buffers: each byte is copied once on its way from the connection to the storage and
// the hash, where Write would copy it a second time, into the hash's buffer. The
// Writer is not held while r blocks. Errors writing to the storage are client-facing,
// like Write's; an error reading r is returned as it is.
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	var n int64
	for {
		buf, err := w.readBuffer()
		if err != nil {
			return n, err
		}
		m, rerr := io.ReadFull(r, buf)
		k, werr := w.appendRead(buf, m)
		n += int64(k)
		switch {
		case werr != nil:
			return n, werr
		case rerr == io.EOF || rerr == io.ErrUnexpectedEOF:
			return n, nil
		case rerr != nil:
			return n, rerr
		}
	}
}

// readBuffer returns a buffer of the hash for ReadFrom to read the next bytes into.
func (w *Writer) readBuffer() ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return nil, w.t.deny("write", fs.ErrClosed)
	}
	return w.hash.buffer(), nil
}

// appendRead appends the first m bytes of buf, a buffer from readBuffer, and hands buf
// back to the hash (see wrote).
func (w *Writer) appendRead(buf []byte, m int) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done { // committed or aborted meanwhile: the hash is closed
		hashBufs.Put(buf)
		return 0, w.t.deny("write", fs.ErrClosed)
	}
	var n int
	var err error
	if m > 0 {
		n, err = w.up.Write(buf[:m])
	}
	w.wrote(buf[:n], w.pos, true)
	w.pos += int64(n)
	if err != nil {
		return n, w.t.fail("write", err)
	}
	return n, nil
}

// writeHashing writes p at off with write and feeds the hash; w.mu is held.
func (w *Writer) writeHashing(p []byte, off int64, write func([]byte) (int, error)) (int, error) {
	n, err := write(p)
	w.wrote(p[:n], off, false)
	return n, err
}

// WriteAt writes p at offset off. It fails with an error wrapping errors.ErrUnsupported
// unless CanWriteAt.
func (w *Writer) WriteAt(p []byte, off int64) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.done:
		return 0, w.t.deny("write", fs.ErrClosed)
	case w.at == nil:
		return 0, w.t.deny("write", fmt.Errorf("the storage cannot write out of order: %w", errors.ErrUnsupported))
	case off < 0:
		return 0, w.t.deny("write", fmt.Errorf("negative offset %d: %w", off, hostapi.ErrInvalid))
	}
	n, err := w.writeHashing(p, off, func(b []byte) (int, error) { return w.at.WriteAt(b, off) })
	if err != nil {
		return n, w.t.fail("write", err)
	}
	return n, nil
}

// wrote feeds the hash with b, just written at off; w.mu is held. With own, b is (the
// start of) a buffer from hash.buffer, which the hash takes back: holding b's bytes,
// without a copy, when they are next in its order, and as an unused buffer otherwise.
func (w *Writer) wrote(b []byte, off int64, own bool) {
	w.size = max(w.size, off+int64(len(b)))
	switch {
	case len(b) == 0:
	case off < w.hashed:
		w.giveUp(true) // rewriting hashed bytes
	case w.unordered:
	case off == w.hashed:
		if own {
			w.hash.give(b)
			own = false
		} else {
			w.hash.Write(b)
		}
		w.hashed += int64(len(b))
		for len(w.pending) > 0 {
			next, ok := w.pending[w.hashed]
			if !ok {
				break
			}
			delete(w.pending, w.hashed)
			w.pendingBytes -= len(next)
			w.hash.Write(next)
			w.hashed += int64(len(next))
		}
	case w.ra != nil && w.pendingBytes+len(b) <= maxPending && !w.overlapsPending(b, off):
		if w.pending == nil {
			w.pending = map[int64][]byte{}
		}
		w.pending[off] = append([]byte(nil), b...)
		w.pendingBytes += len(b)
	default:
		w.giveUp(false) // too much out of order: read back at Commit
	}
	if own {
		w.hash.putBack(b)
	}
}

// overlapsPending reports whether b, written at off, overlaps a pending write.
func (w *Writer) overlapsPending(b []byte, off int64) bool {
	end := off + int64(len(b))
	for o, p := range w.pending {
		if off < o+int64(len(p)) && o < end {
			return true
		}
	}
	return false
}

// giveUp stops hashing as bytes arrive; restart also forgets what was hashed.
func (w *Writer) giveUp(restart bool) {
	w.unordered = true
	w.pending, w.pendingBytes = nil, 0
	if restart {
		w.hash.reset()
		w.hashed = 0
	}
}

// sum returns the SHA-256 of the upload, reading back what could not be hashed in
// order; "" when that is impossible. w.mu is held.
func (w *Writer) sum() (string, error) {
	if w.hashed != w.size {
		if w.ra == nil {
			return "", nil
		}
		if _, err := iobuf.Copy(w.hash, io.NewSectionReader(w.ra, w.hashed, w.size-w.hashed)); err != nil {
			return "", fmt.Errorf("read back the upload: %w", err)
		}
	}
	return w.hash.sum(), nil
}

// Commit makes the file visible at its path and records file.uploaded with its size and
// SHA-256, returning that event. On failure the upload is discarded and the previous
// content, if any, stays.
func (w *Writer) Commit(ctx context.Context) (hostapi.Event, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return hostapi.Event{}, w.t.deny("commit", fs.ErrClosed)
	}
	w.done = true
	defer w.hash.close()
	if w.size != w.announced {
		if err := w.fs.authorize(ctx, hostapi.ActionUpload, w.t, "", w.size); err != nil {
			w.up.Abort()
			return hostapi.Event{}, err
		}
	}
	sum, err := w.sum()
	if err != nil {
		w.up.Abort()
		return hostapi.Event{}, w.t.fail("commit", err)
	}
	if w.noClobber {
		if _, err := w.fs.backend.Stat(ctx, w.t.backend); err == nil {
			w.up.Abort()
			return hostapi.Event{}, w.t.deny("commit", hostapi.ErrExist)
		}
	}
	ev := w.fs.event(hostapi.EventFileUploaded, w.t.tenant)
	ev.Size, ev.SHA256 = w.size, sum
	if s, ok := w.up.(modTimeSetter); ok {
		// The file and its event get the same time, to the millisecond the journal
		// keeps, so that downloads of this version find its SHA-256 there (see
		// Sums). Best effort: without it downloads only hash the file.
		ev.Time = ev.Time.Truncate(time.Millisecond)
		s.SetModTime(ev.Time)
	}
	if err := w.up.Commit(ctx); err != nil {
		w.up.Abort()
		return hostapi.Event{}, w.t.fail("commit", err)
	}
	return ev, w.fs.record(ctx, ev)
}

// modTimeSetter is implemented by uploads that can give the file a modification time
// when they commit it (the local backend's).
type modTimeSetter interface {
	SetModTime(t time.Time) error
}

// Abort discards the upload; it does nothing after Commit or a previous Abort.
func (w *Writer) Abort() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return nil
	}
	w.done = true
	w.hash.close()
	if err := w.up.Abort(); err != nil {
		return w.t.fail("abort", err)
	}
	return nil
}
