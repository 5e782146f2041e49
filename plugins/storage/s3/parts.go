package s3

import (
	"bytes"
	"io"
	"sync"
)

// etags collects the ETags of the parts of a multipart upload, sent concurrently.
type etags struct {
	mu sync.Mutex
	m  map[int]string
}

func newETags() *etags { return &etags{m: map[int]string{}} }

func (e *etags) set(n int, etag string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[n] = etag
}

func (e *etags) get(n int) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.m[n]
}

// bytesReader is the seekable body the SDK signs and, on a retry, rewinds.
func bytesReader(b []byte) io.ReadSeeker { return bytes.NewReader(b) }
