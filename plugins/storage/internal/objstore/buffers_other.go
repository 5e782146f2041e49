//go:build !unix

package objstore

// mapPart returns size bytes from the heap: this system has no anonymous mappings.
func mapPart(size int) (b []byte, mapped bool) { return make([]byte, size), false }

// releasePart reports that b is not kept: the collector frees it.
func releasePart(b []byte) bool { return false }
