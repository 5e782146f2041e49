package objstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// Multipart is an object being written in parts (an S3 multipart upload, Azure
// staged blocks). Nothing is visible at its key before Complete.
type Multipart interface {
	// UploadPart sends part n (numbered from 1). Parts are sent concurrently and may
	// arrive in any order.
	UploadPart(ctx context.Context, n int, data []byte) error
	// Complete makes parts 1 to n, all sent, the object, atomically.
	Complete(ctx context.Context, n int) error
	// Abort discards the parts sent.
	Abort(ctx context.Context) error
}

// PartPlan sizes the parts of uploads, whose total size is not known in advance.
type PartPlan struct {
	Size     int // bytes of each of the first parts
	MaxParts int // the backend's limit on parts per object
	MaxSize  int // the backend's limit on one part's bytes
}

// PartSize returns the size of part n (from 1): Size for the first quarter of
// MaxParts, then twice as much for each further quarter (up to MaxSize). Uploads of
// up to MaxParts/4 × Size bytes keep small parts; the largest object is 15/4 ×
// MaxParts × Size (293 GiB for S3's 10,000 parts of 8 MiB).
func (p PartPlan) PartSize(n int) int {
	tier := (n - 1) / max(p.MaxParts/4, 1)
	return min(p.Size<<min(tier, 3), p.MaxSize)
}

// abortTimeout bounds the clean-up of an aborted upload.
const abortTimeout = time.Minute

// Upload is a file being written into a multipart upload, a part at a time. It keeps
// in memory the part being filled and at most Options.Concurrency parts being sent;
// a Write waits when that many are in flight. A file smaller than one part is sent in
// one request at Commit.
type Upload struct {
	s      *Store
	name   string
	key    string
	base   context.Context // for cleaning up; never cancelled
	ctx    context.Context // the parts' requests; cancelled by Abort or a failed part
	cancel context.CancelCauseFunc
	sem    chan struct{} // a token per part in flight
	wg     sync.WaitGroup

	mu   sync.Mutex
	buf  *[]byte   // the part being filled; nil before the first byte of a part
	mp   Multipart // nil until the first part is full
	n    int       // parts started
	done bool      // committed or aborted
}

var _ hostapi.Upload = (*Upload)(nil)

func (s *Store) newUpload(ctx context.Context, name string) *Upload {
	base := context.WithoutCancel(ctx)
	pctx, cancel := context.WithCancelCause(base)
	return &Upload{
		s: s, name: name, key: s.key(name),
		base: base, ctx: pctx, cancel: cancel,
		sem: make(chan struct{}, s.opts.Concurrency),
	}
}

// Write appends p to the upload. It returns the error of a part that failed.
func (u *Upload) Write(p []byte) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.done {
		return 0, u.s.errorf("write %q: %w", u.name, fs.ErrClosed)
	}
	written := 0
	for len(p) > 0 {
		if err := context.Cause(u.ctx); err != nil {
			return written, u.s.errorf("write %q: %w", u.name, err)
		}
		if u.buf == nil {
			u.buf = u.s.getBuf(u.s.opts.Parts.PartSize(u.n + 1))
		}
		b := *u.buf
		k := min(cap(b)-len(b), len(p))
		*u.buf = append(b, p[:k]...)
		written += k
		p = p[k:]
		if len(*u.buf) == cap(*u.buf) {
			if err := u.send(); err != nil {
				u.cancel(err) // the upload cannot go on
				return written, u.s.errorf("write %q: %w", u.name, err)
			}
		}
	}
	return written, nil
}

// send starts sending the buffered part, waiting while Concurrency parts are in
// flight; u.mu is held.
func (u *Upload) send() error {
	if u.n == u.s.opts.Parts.MaxParts {
		return fmt.Errorf("more than %d parts: the file is too large: %w", u.n, hostapi.ErrInvalid)
	}
	if u.mp == nil {
		mp, err := u.s.b.StartMultipart(u.ctx, u.key)
		if err != nil {
			return err
		}
		u.mp = mp
	}
	select {
	case u.sem <- struct{}{}:
	case <-u.ctx.Done():
		return context.Cause(u.ctx)
	}
	u.n++
	n, buf, mp := u.n, u.buf, u.mp
	u.buf = nil
	u.wg.Go(func() {
		defer func() { <-u.sem }()
		defer u.s.putBuf(buf)
		if err := mp.UploadPart(u.ctx, n, *buf); err != nil {
			u.cancel(fmt.Errorf("part %d: %w", n, err))
		}
	})
	return nil
}

// Commit sends what is left and completes the upload: the object appears whole at its
// key. On failure nothing was written and the upload is discarded.
func (u *Upload) Commit(ctx context.Context) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.done {
		return u.s.errorf("commit %q: %w", u.name, fs.ErrClosed)
	}
	u.done = true
	if err := u.commit(ctx); err != nil {
		u.discard()
		return u.s.errorf("commit %q: %w", u.name, err)
	}
	u.cancel(nil)
	return nil
}

func (u *Upload) commit(ctx context.Context) error {
	if u.mp == nil {
		var data []byte
		if u.buf != nil {
			data = *u.buf
		}
		err := u.s.b.Put(ctx, u.key, data)
		u.s.putBuf(u.buf)
		u.buf = nil
		return err
	}
	if u.buf != nil && len(*u.buf) > 0 {
		if err := u.send(); err != nil {
			return err
		}
	}
	stop := context.AfterFunc(ctx, func() { u.cancel(context.Cause(ctx)) })
	u.wg.Wait()
	stop()
	if err := context.Cause(u.ctx); err != nil {
		return err
	}
	return u.mp.Complete(ctx, u.n)
}

// Abort discards the upload; it does nothing after Commit or a previous Abort.
func (u *Upload) Abort() error {
	u.cancel(errAborted) // first, so that a Write waiting for a part returns
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.done {
		return nil
	}
	u.done = true
	if err := u.discard(); err != nil {
		return u.s.errorf("abort %q: %w", u.name, err)
	}
	return nil
}

// errAborted is the cause of an aborted upload's cancelled requests.
var errAborted = errors.New("upload aborted")

// discard stops the parts in flight, releases the buffer and aborts the multipart
// upload; u.mu is held.
func (u *Upload) discard() error {
	u.cancel(errAborted)
	u.wg.Wait()
	u.s.putBuf(u.buf)
	u.buf = nil
	if u.mp == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(u.base, abortTimeout)
	defer cancel()
	return u.mp.Abort(ctx)
}

// getBuf returns an empty buffer of capacity size: one of the Store's part buffers
// when it has the first parts' size.
func (s *Store) getBuf(size int) *[]byte {
	var b []byte
	if size == s.opts.Parts.Size {
		b = s.parts.get()[:0]
	} else {
		b = make([]byte, 0, size)
	}
	return &b
}

// putBuf returns a buffer from getBuf; nil is ignored.
func (s *Store) putBuf(b *[]byte) {
	if b != nil && cap(*b) == s.opts.Parts.Size {
		s.parts.put(*b)
	}
}
