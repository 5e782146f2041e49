package local

import (
	"errors"
	"os"
	"slices"
	"sync"
	"syscall"
	"unsafe"
)

// An upload that Commit flushes (sync = "commit") is written past its first directFrom
// bytes with O_DIRECT, in directChunk pieces from aligned buffers: its bytes go from
// those buffers to the disk instead of being copied into the page cache, written back
// and flushed at Commit, which then has only the last piece and the metadata left to
// write. On this VM 1 GiB written in 1 MiB pieces took 0.2-0.3 s of CPU (0.8-1.0 s
// with the flush) against 1.8-3.3 s through the page cache with writeback started
// every 8 MiB (BenchmarkUploadCommit: "commit" against "commit-buffered").
//
// Bytes are staged in a window of two chunks and may arrive in any order within it
// (an SFTP client's parallel requests do); a chunk is written, in the background,
// once it is whole and first in the window, and the window moves on. A write past the
// window moves it on too, writing what its first chunk holds through the page cache,
// as a write behind the window is (the rare straggler of a client with many requests
// in flight). A write over bytes staged, a ReadAt, or a file system that refuses
// O_DIRECT ends direct writing: the staged bytes are written, and the rest of the
// upload goes through the page cache.
const (
	directChunk  = 1 << 20
	directWindow = 2 * directChunk
	directFrom   = directChunk
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

// direct is an upload's direct writing; Upload.wmu guards it. While the first chunk
// of the window is written in the background, the window fills on.
type direct struct {
	f    *os.File   // the temporary file opened again with O_DIRECT; nil until directFrom
	base int64      // the file offset of the window
	win  [2]*[]byte // the window's chunks, from directBufs; nil until a byte lands there
	have [2]spans   // the bytes staged in each

	writing *[]byte    // the chunk being written, or nil
	written chan error // its result
}

// spans are the byte ranges of a chunk staged so far: sorted, disjoint, adjacent ones
// merged.
type spans []span

type span struct{ from, to int }

// overlaps says whether [from, to) meets a span.
func (s spans) overlaps(from, to int) bool {
	for _, x := range s {
		if from < x.to && x.from < to {
			return true
		}
	}
	return false
}

// add records [from, to), which overlaps no span.
func (s *spans) add(from, to int) {
	i, _ := slices.BinarySearchFunc(*s, from, func(x span, from int) int { return x.from - from })
	*s = slices.Insert(*s, i, span{from, to})
	if i+1 < len(*s) && (*s)[i].to == (*s)[i+1].from {
		(*s)[i].to = (*s)[i+1].to
		*s = slices.Delete(*s, i+1, i+2)
	}
	if i > 0 && (*s)[i-1].to == (*s)[i].from {
		(*s)[i-1].to = (*s)[i].to
		*s = slices.Delete(*s, i, i+1)
	}
}

// whole says whether the spans cover a chunk.
func (s spans) whole() bool { return len(s) == 1 && s[0] == span{0, directChunk} }

// writeAt writes p at off, past the page cache where it can; u.wmu is held.
func (u *Upload) writeAt(p []byte, off int64) (int, error) {
	if u.werr != nil {
		return 0, u.werr
	}
	d := u.direct
	if d == nil || off+int64(len(p)) <= directFrom {
		return u.writeBuffered(p, off)
	}
	if len(p) > directChunk { // a piece at a time: each fits the window
		n := 0
		for n < len(p) {
			m, err := u.writeAt(p[n:min(len(p), n+directChunk)], off+int64(n))
			n += m
			if err != nil {
				return n, err
			}
		}
		return n, nil
	}
	if off < directFrom { // the bytes before directFrom go through the page cache
		k := int(directFrom - off)
		n, err := u.writeBuffered(p[:k], off)
		if err != nil {
			return n, err
		}
		m, err := u.writeAt(p[k:], directFrom)
		return n + m, err
	}
	staged, err := u.stage(d, p, off)
	if staged || err != nil {
		return len(p), err
	}
	if err := u.endDirect(); err != nil {
		return 0, err
	}
	return u.writeBuffered(p, off)
}

// cacheWriteMax bounds the bytes of one write through the page cache. Linux sizes the
// page cache's pieces (folios) by the write: a 1 MiB write takes a 1 MiB folio, which
// on a virtual machine that hands free memory back to its host (virtio-balloon free
// page reporting, as on this project's Firecracker guests) comes from memory the host
// must fault in again, page by page, inside the copy. Writes of 512 KiB and less did
// not pay that here: 1 GiB in 1 MiB writes took 0.58-0.60 s, in 256 KiB pieces 0.37 s
// (BenchmarkPageCacheWrites; 128 and 512 KiB pieces measured the same as 256), and on
// the FTP upload path the copy into the page cache fell from about 1.1 s to 0.13 s per
// GiB (perf, bench/README.md). The extra system calls cost next to nothing.
const cacheWriteMax = 256 << 10

// writeBuffered writes p at off through the page cache, at most u.s.cacheWrite bytes
// per write (see cacheWriteMax; 0: p whole).
func (u *Upload) writeBuffered(p []byte, off int64) (int, error) {
	piece := u.s.cacheWrite
	if piece <= 0 {
		piece = len(p)
	}
	n := 0
	for n < len(p) {
		m, err := u.f.WriteAt(p[n:min(len(p), n+piece)], off+int64(n))
		n += m
		u.wrote(m)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// stage copies p, to be written at off, into the window, and starts writing each chunk
// it completes at the front of the window. It stages nothing and says so when p meets
// bytes staged before.
func (u *Upload) stage(d *direct, p []byte, off int64) (staged bool, err error) {
	if d.f == nil {
		f, err := openDirect(u.dir, u.tmp)
		if err != nil {
			u.direct = nil // the file system refuses: the page cache serves the rest
			return false, nil
		}
		d.f, d.base = f, directFrom
	}
	if off < d.base { // behind the window
		k := min(len(p), int(d.base-off))
		if err := u.writeBehind(d, p[:k], off); err != nil || k == len(p) {
			return true, err
		}
		p, off = p[k:], d.base
	}
	for off+int64(len(p)) > d.base+directWindow {
		if err := u.advance(d); err != nil {
			return true, err
		}
	}
	rel := int(off - d.base)
	for i := range d.win { // check before copying anything
		from, to := chunkPart(i, rel, len(p))
		if from < to && d.have[i].overlaps(from, to) {
			return false, nil
		}
	}
	for i := range d.win {
		from, to := chunkPart(i, rel, len(p))
		if from >= to {
			continue
		}
		if d.win[i] == nil {
			d.win[i] = directBufs.Get().(*[]byte)
		}
		copy((*d.win[i])[from:to], p[from+i*directChunk-rel:])
		d.have[i].add(from, to)
	}
	for d.have[0].whole() {
		if err := u.writeChunk(d); err != nil {
			return true, err
		}
	}
	return true, nil
}

// chunkPart returns the part of the window's chunk i that n bytes at window offset rel
// cover, as offsets in the chunk; from >= to when they miss it.
func chunkPart(i, rel, n int) (from, to int) {
	return max(rel-i*directChunk, 0), min(rel+n-i*directChunk, directChunk)
}

// writeBehind writes p, which lies behind the window, through the page cache, once the
// chunk being written is on disk (p may rewrite its bytes).
func (u *Upload) writeBehind(d *direct, p []byte, off int64) error {
	if err := d.wait(); err != nil {
		u.werr = err
		return err
	}
	_, err := u.writeBuffered(p, off)
	return err
}

// advance moves the window on by a chunk: writes its first chunk directly if whole,
// else the bytes it holds through the page cache.
func (u *Upload) advance(d *direct) error {
	if d.have[0].whole() {
		return u.writeChunk(d)
	}
	if err := u.writeSpans(d, 0); err != nil {
		return err
	}
	if d.win[0] != nil {
		directBufs.Put(d.win[0])
	}
	d.shift()
	return nil
}

// shift drops the window's first chunk.
func (d *direct) shift() {
	d.win, d.have = [2]*[]byte{d.win[1], nil}, [2]spans{d.have[1], nil}
	d.base += directChunk
}

// writeSpans writes the bytes staged in the window's chunk i through the page cache.
func (u *Upload) writeSpans(d *direct, i int) error {
	for _, s := range d.have[i] {
		if _, err := u.writeBuffered((*d.win[i])[s.from:s.to], d.base+int64(i*directChunk+s.from)); err != nil {
			return err
		}
	}
	return nil
}

// writeChunk starts writing the window's first chunk in the background, once the one
// before is written, and moves the window on by a chunk.
func (u *Upload) writeChunk(d *direct) error {
	if err := d.wait(); err != nil {
		u.werr = err
		return err
	}
	if d.written == nil {
		d.written = make(chan error, 1)
	}
	full, base := d.win[0], d.base
	d.writing = full
	d.shift()
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

// putDirect writes b at off with O_DIRECT, or through the page cache where the file
// system refuses (EINVAL).
func (u *Upload) putDirect(d *direct, b []byte, off int64) error {
	_, err := d.f.WriteAt(b, off)
	if !errors.Is(err, syscall.EINVAL) {
		return err
	}
	_, err = u.writeBuffered(b, off)
	return err
}

// endDirect writes what is staged and ends direct writing; u.wmu is held. A failure is
// kept in u.werr: bytes the client was told were written are lost, so the upload must
// not commit.
func (u *Upload) endDirect() error {
	d := u.direct
	if d == nil {
		return u.werr
	}
	u.direct = nil
	if d.f == nil {
		return u.werr
	}
	defer d.close()
	if u.werr == nil {
		u.werr = u.flushStaged(d)
	}
	return u.werr
}

// flushStaged waits for the chunk being written and writes the staged bytes through
// the page cache (at most a window: the flush at Commit takes them).
func (u *Upload) flushStaged(d *direct) error {
	if err := d.wait(); err != nil {
		return err
	}
	for i := range d.have {
		if err := u.writeSpans(d, i); err != nil {
			return err
		}
	}
	return nil
}

// close waits for the chunk being written and releases the descriptor and the buffers.
func (d *direct) close() {
	if d.f == nil {
		return
	}
	d.wait()
	d.f.Close()
	for i, b := range d.win {
		if b != nil {
			directBufs.Put(b)
			d.win[i] = nil
		}
	}
	d.f = nil
}
