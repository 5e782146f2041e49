package sftp

import (
	"bytes"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Filegate: writes reach the handler in the order the client sent them (see
// packetManager.workerChan), though the client has many in flight and each takes its
// own time.
func TestRequestServerWritesInOrder(t *testing.T) {
	rec := &writeRecorder{}
	h := InMemHandler()
	h.FilePut = rec
	p := clientRequestServerPairWithHandlers(t, h)
	defer p.Close()
	require.NoError(t, UseConcurrentWrites(true)(p.cli))

	f, err := p.cli.Create("/upload")
	require.NoError(t, err)
	data := make([]byte, 4<<20)
	n, err := f.ReadFrom(bytes.NewReader(data))
	require.NoError(t, err)
	require.Equal(t, int64(len(data)), n)
	require.NoError(t, f.Close())

	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Equal(t, int64(len(data)), rec.bytes)
	require.Greater(t, len(rec.offsets), 64, "too few writes to tell")
	require.True(t, slices.IsSorted(rec.offsets), "writes reached the handler out of order: %v", rec.offsets)
}

// writeRecorder records the offsets of the writes it is given, in the order they
// arrive; a write takes 0 to 200 µs first, so that writes handled at once would
// arrive out of order.
type writeRecorder struct {
	mu      sync.Mutex
	offsets []int64
	bytes   int64
}

func (r *writeRecorder) Filewrite(*Request) (io.WriterAt, error) { return r, nil }

func (r *writeRecorder) WriteAt(p []byte, off int64) (int, error) {
	time.Sleep(time.Duration(off/int64(len(p)+1)%3) * 100 * time.Microsecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.offsets = append(r.offsets, off)
	r.bytes += int64(len(p))
	return len(p), nil
}
