package xfer

import (
	"errors"
	"fmt"
	"os"
)

// reorder holds the writes of an append-only upload that arrived ahead of its end
// until the bytes before them arrive: in memory up to memLimit bytes, and past that
// in a temporary spill file, so that a client writing far out of order costs disk,
// not memory. The zero value is not usable: see newReorder.
type reorder struct {
	dir        string // where the spill file goes ("" for os.TempDir)
	memLimit   int    // bytes held in memory at most
	spillLimit int64  // bytes written to the spill file at most
	held       int    // bytes held in memory
	chunks     map[int64]chunk
	spill      *os.File // created at the first write past memLimit
	spillEnd   int64    // bytes written to spill
	named      string   // spill's name, when it could not be unlinked while open
	buf        []byte   // a chunk read back from spill
}

// chunk is one held write: its bytes in memory, or their place in the spill file.
type chunk struct {
	data []byte // nil when spilled
	at   int64  // offset in the spill file
	n    int
}

// spillPrefix starts the name of every spill file.
const spillPrefix = "filegate-spill-"

// maxSpill bounds the spill file of one upload, so that a client writing far ahead
// cannot fill the disk. Clients that upload a file in parallel ranges (rclone's
// multi-thread copies) spill up to most of it: files larger than about this bound
// need sequential writes (rclone --multi-thread-streams 0).
const maxSpill = 4 << 30

func newReorder(dir string, memLimit int, spillLimit int64) *reorder {
	return &reorder{dir: dir, memLimit: memLimit, spillLimit: spillLimit, chunks: map[int64]chunk{}}
}

// put holds b, written at off.
func (r *reorder) put(off int64, b []byte) error {
	if _, dup := r.chunks[off]; dup {
		return fmt.Errorf("xfer: second write at %d on append-only storage: %w", off, errors.ErrUnsupported)
	}
	if r.held+len(b) <= r.memLimit {
		r.chunks[off] = chunk{data: append([]byte(nil), b...), n: len(b)}
		r.held += len(b)
		return nil
	}
	if r.spillEnd+int64(len(b)) > r.spillLimit {
		return fmt.Errorf("xfer: write at %d is too far ahead of the upload's end on append-only storage (more than %d bytes held back): write the file in order: %w",
			off, r.spillLimit, errors.ErrUnsupported)
	}
	if err := r.openSpill(); err != nil {
		return err
	}
	if _, err := r.spill.WriteAt(b, r.spillEnd); err != nil {
		return fmt.Errorf("xfer: spilling a write held back: %w", err)
	}
	r.chunks[off] = chunk{at: r.spillEnd, n: len(b)}
	r.spillEnd += int64(len(b))
	return nil
}

// openSpill creates the spill file, once. It is unlinked at once where the system
// allows it, so that not even a killed process leaves it behind.
func (r *reorder) openSpill() error {
	if r.spill != nil {
		return nil
	}
	f, err := os.CreateTemp(r.dir, spillPrefix+"*")
	if err != nil {
		return fmt.Errorf("xfer: creating a spill file for writes held back: %w", err)
	}
	if os.Remove(f.Name()) != nil {
		r.named = f.Name() // removed by close
	}
	r.spill = f
	return nil
}

// take removes and returns the write held at off, if any. The bytes of a spilled
// write are valid until the next call.
func (r *reorder) take(off int64) ([]byte, bool, error) {
	c, ok := r.chunks[off]
	if !ok {
		return nil, false, nil
	}
	delete(r.chunks, off)
	if c.data != nil {
		r.held -= c.n
		return c.data, true, nil
	}
	if cap(r.buf) < c.n {
		r.buf = make([]byte, c.n)
	}
	b := r.buf[:c.n]
	if _, err := r.spill.ReadAt(b, c.at); err != nil {
		return nil, false, fmt.Errorf("xfer: reading back a spilled write: %w", err)
	}
	return b, true, nil
}

// pending returns the number of writes held and their bytes.
func (r *reorder) pending() (writes int, bytes int64) {
	for _, c := range r.chunks {
		bytes += int64(c.n)
	}
	return len(r.chunks), bytes
}

// close drops every held write and removes the spill file.
func (r *reorder) close() error {
	clear(r.chunks)
	r.held, r.buf = 0, nil
	if r.spill == nil {
		return nil
	}
	err := r.spill.Close()
	if r.named != "" {
		err = errors.Join(err, os.Remove(r.named))
	}
	r.spill, r.named, r.spillEnd = nil, "", 0
	if err != nil {
		return fmt.Errorf("xfer: removing the spill file: %w", err)
	}
	return nil
}
