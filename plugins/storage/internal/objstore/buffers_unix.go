//go:build unix

package objstore

import "golang.org/x/sys/unix"

// mapPart returns size bytes of anonymous memory mapped outside the Go heap, or, if
// the mapping fails, from the heap; mapped reports which.
func mapPart(size int) (b []byte, mapped bool) {
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return make([]byte, size), false
	}
	return b, true
}

// releasePart gives the memory of a buffer from mapPart back to the system; the
// buffer stays usable (it reads as zeros until written again). It reports whether
// b should be kept for reuse: false for a buffer from the heap, left to the collector.
func releasePart(b []byte) bool {
	return unix.Madvise(b, unix.MADV_DONTNEED) == nil
}
