package local

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// An upload that Commit flushes (sync = "commit") and that arrives in order is written
// past its first directFrom bytes with O_DIRECT, in directChunk pieces from an aligned
// buffer: its bytes go from that buffer to the disk instead of being copied into the
// page cache, written back and flushed at Commit, which then has only the tail and the
// metadata left to write. On this VM 1 GiB written in 1 MiB pieces took 0.2-0.3 s of
// CPU (0.8-1.0 s with the flush) against 1.8-3.3 s through the page cache with
// writeback started every 8 MiB (BenchmarkUpload: "commit" against "commit-buffered").
//
// The first write out of order (an SFTP client's parallel requests), a ReadAt, or a
// file system that refuses O_DIRECT ends it: the staged bytes are written, and the
// rest of the upload goes through the page cache.
const (
	directChunk = 1 << 20
	directFrom  = directChunk
	// directAlign is the alignment O_DIRECT needs of offsets, lengths and memory: the
	// logical block size, 512 or 4096 bytes on today's disks.
	directAlign = 4096
)

// directBufs holds directChunk buffers aligned to directAlign.
var directBufs = sync.Pool{New: func() any {
	b := make([]byte, directChunk+directAlign)
	skip := int(-uintptr(unsafe.Pointer(unsafe.SliceData(b))) & (directAlign - 1))
	b = b[skip : skip+directChunk : skip+directChunk]
	return &b
}}

// direct is an upload's direct writing; Upload.wmu guards it. A full chunk is written
// in the background while the next one fills: the client's bytes keep coming while
// the disk writes.
type direct struct {
	f    *os.File // the temporary file opened again with O_DIRECT; nil until directFrom
	buf  *[]byte  // the chunk being filled, from directBufs while f is open
	n    int      // bytes staged in buf
	base int64    // the file offset of buf's first byte
	end  int64    // the offset the next write in order starts at

	writing *[]byte    // the chunk being written, or nil
	written chan error // its result
}

// writeAt writes p at off, directly while the upload stays in order; u.wmu is held.
func (u *Upload) writeAt(p []byte, off int64) (int, error) {
	if u.werr != nil {
		return 0, u.werr
	}
	if d := u.direct; d != nil {
		if off == d.end {
			return u.writeInOrder(d, p)
		}
		if err := u.endDirect(); err != nil {
			return 0, err
		}
	}
	n, err := u.f.WriteAt(p, off)
	u.wrote(n)
	return n, err
}

// writeInOrder writes p at d.end: through the page cache up to directFrom, then staged
// and written a chunk at a time.
func (u *Upload) writeInOrder(d *direct, p []byte) (int, error) {
	if d.f != nil {
		return u.stage(d, p)
	}
	k := min(len(p), int(directFrom-d.end))
	n, err := u.f.WriteAt(p[:k], d.end)
	u.wrote(n)
	d.end += int64(n)
	if err != nil || d.end < directFrom {
		return n, err
	}
	u.startDirect(d) // at directFrom, aligned
	if u.direct == nil {
		m, err := u.f.WriteAt(p[k:], d.end)
		u.wrote(m)
		return n + m, err
	}
	m, err := u.stage(d, p[k:])
	return n + m, err
}

// stage copies p into d's buffer, writing the buffer each time it is full.
func (u *Upload) stage(d *direct, p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		k := copy((*d.buf)[d.n:], p)
		p, written, d.n, d.end = p[k:], written+k, d.n+k, d.end+int64(k)
		if d.n < directChunk {
			continue
		}
		if err := u.writeChunk(d); err != nil {
			return written, err
		}
	}
	return written, nil
}

// writeChunk starts writing the full chunk in the background, once the one before is
// written, and takes a buffer for the next.
func (u *Upload) writeChunk(d *direct) error {
	if err := d.wait(); err != nil {
		u.werr = err
		return err
	}
	if d.written == nil {
		d.written = make(chan error, 1)
	}
	full, base := d.buf, d.base
	d.writing, d.buf = full, directBufs.Get().(*[]byte)
	d.base, d.n = d.base+directChunk, 0
	go func() { d.written <- u.putDirect(d, *full, base) }()
	return nil
}

// wait waits for the chunk being written, if any, and returns its buffer to the pool.
func (d *direct) wait() error {
	if d.writing == nil {
		return nil
	}
	err := <-d.written
	directBufs.Put(d.writing)
	d.writing = nil
	return err
}

// startDirect opens the temporary file for direct writes from d.end on, or ends direct
// writing (u.direct = nil) if the file system refuses.
func (u *Upload) startDirect(d *direct) {
	f, err := openDirect(u.dir, u.tmp)
	if err != nil {
		u.direct = nil // the page cache serves the rest
		return
	}
	d.f, d.buf, d.base, d.n = f, directBufs.Get().(*[]byte), d.end, 0
}

// putDirect writes b at off with O_DIRECT, or through the page cache where the file
// system refuses (EINVAL).
func (u *Upload) putDirect(d *direct, b []byte, off int64) error {
	_, err := d.f.WriteAt(b, off)
	if !errors.Is(err, syscall.EINVAL) {
		return err
	}
	n, err := u.f.WriteAt(b, off)
	u.wrote(n)
	return err
}

// endDirect writes what is staged (its aligned part directly, the rest through the
// page cache) and ends direct writing; u.wmu is held. A failure is kept in u.werr:
// bytes the client was told were written are lost, so the upload must not commit.
func (u *Upload) endDirect() error {
	d := u.direct
	if d == nil || u.werr != nil {
		return u.werr
	}
	u.direct = nil
	if d.f == nil {
		return nil
	}
	defer d.close()
	u.werr = u.flushStaged(d)
	return u.werr
}

// flushStaged waits for the chunk being written and writes the staged bytes.
func (u *Upload) flushStaged(d *direct) error {
	if err := d.wait(); err != nil {
		return err
	}
	staged := (*d.buf)[:d.n]
	aligned := d.n &^ (directAlign - 1)
	if aligned > 0 {
		if err := u.putDirect(d, staged[:aligned], d.base); err != nil {
			return err
		}
	}
	n, err := u.f.WriteAt(staged[aligned:], d.base+int64(aligned))
	u.wrote(n)
	return err
}

// close waits for the chunk being written and releases the descriptor and the buffers.
func (d *direct) close() {
	if d.f == nil {
		return
	}
	d.wait()
	d.f.Close()
	directBufs.Put(d.buf)
	d.f, d.buf = nil, nil
}
