package wire

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// The storage methods (host API 1.1). ABI.md gives each one's request and result.
const (
	MethodStorageOpen Method = 5  // () → features Strings
	MethodStat        Method = 6  // path → FileInfo
	MethodList        Method = 7  // dir, ListOptions → ListPage
	MethodOpen        Method = 8  // path, offset Int, max Uint → handle Uint, data Blob, eof Bool
	MethodRead        Method = 9  // handle Uint, max Uint → data Blob, eof Bool
	MethodClose       Method = 10 // handle Uint → ()
	MethodCreate      Method = 11 // path → handle Uint
	MethodWrite       Method = 12 // handle Uint, data Blob → ()
	MethodCommit      Method = 13 // handle Uint, data Blob → ()
	MethodAbort       Method = 14 // handle Uint → ()
	MethodMkdir       Method = 15 // path → ()
	MethodRename      Method = 16 // from, to → ()
	MethodRemove      Method = 17 // path → ()
	MethodChtimes     Method = 18 // path, mtime Time → ()
	MethodSweepTemp   Method = 19 // () → removed Uint
)

// The optional storage calls a plugin reports from StorageOpen.
const (
	FeatureChtimes   = "chtimes"    // MethodChtimes: the backend is a hostapi.Chtimer
	FeatureSweepTemp = "sweep_temp" // MethodSweepTemp: the backend is a hostapi.Sweeper
)

// The sizes of the data of one Read, Write or Commit: the host reads ChunkMin bytes
// with Open, then doubles up to ChunkMax; it writes ChunkMax bytes at a time. A plugin
// refuses data over ChunkMax with CodeTooLarge and reads at most ChunkMax.
const (
	ChunkMin = 64 << 10
	ChunkMax = 1 << 20
)

// chunkCap is the capacity of a chunk buffer: a chunk with its message's fields and
// response code (at most 1+10+10+1 bytes around the data) and room to spare.
const chunkCap = ChunkMax + 64

// chunkBufs recycles the buffers of the messages that carry chunks, on both sides of
// a transport. A fresh 1 MiB slice per chunk costs more than moving it between the
// processes: it is zeroed, often faulted in page by page, and with a small heap it
// starts a garbage collection every few chunks. Measured between two processes over
// go-plugin's yamux, one fresh 1 MiB buffer per request on each side brought a
// request/response loop from about 1 GB/s down to about 250 MB/s.
var chunkBufs sync.Pool // of *[]byte with a capacity of at least ChunkMax+32

// ChunkBuffer returns a buffer of n bytes for a message: for one of chunk size (from
// ChunkMin to chunkCap bytes) a recycled one if there is one (its bytes are not
// zeroed), otherwise a new one. Give it back with RecycleChunk once done with it.
func ChunkBuffer(n int) []byte {
	if n < ChunkMin || n > chunkCap {
		return make([]byte, n)
	}
	if bp, ok := chunkBufs.Get().(*[]byte); ok && cap(*bp) >= n {
		return (*bp)[:n]
	}
	return make([]byte, n, chunkCap)
}

// RecycleChunk gives b, a message nothing uses any more (neither b nor a slice of it),
// back to ChunkBuffer. It keeps only buffers of about chunk capacity: it may be
// passed any message, such as every response a transport has sent.
func RecycleChunk(b []byte) {
	if c := cap(b); c >= ChunkMax+32 && c <= chunkCap {
		b = b[:c]
		chunkBufs.Put(&b)
	}
}

// StorageServer serves the storage methods of one storage plugin: it opens the
// backend on the first storage call, with the config table the host call "config"
// returns, and keeps the plugin's open read and upload handles. It is safe for
// concurrent use. The methods of host API 1.0 (Manifest) go to Serve.
type StorageServer struct {
	p hostapi.StoragePlugin

	openMu sync.Mutex
	st     hostapi.Storage // nil until opened

	mu      sync.Mutex
	handles map[uint64]*handle
	next    uint64 // the next handle: a random base, so ids never repeat across restarts
}

// handle is an open reader or upload; exactly one of r and up is set.
type handle struct {
	mu sync.Mutex // one call at a time
	r  io.ReadCloser
	up hostapi.Upload
}

// NewStorageServer returns the server of the storage plugin p.
func NewStorageServer(p hostapi.StoragePlugin) *StorageServer {
	var seed [8]byte
	rand.Read(seed[:])
	// Keep ids below 2^53 so that a plugin in a language with float numbers
	// (JavaScript) may echo them; a random base still makes reuse across restarts
	// vanishingly unlikely.
	return &StorageServer{p: p, handles: map[uint64]*handle{}, next: binary.LittleEndian.Uint64(seed[:])>>12 | 1}
}

// storage returns the open backend, opening it first if need be. A failed open is not
// remembered: the next call tries again.
func (s *StorageServer) storage(ctx context.Context, host hostapi.Host) (hostapi.Storage, error) {
	s.openMu.Lock()
	defer s.openMu.Unlock()
	if s.st != nil {
		return s.st, nil
	}
	cfg := map[string]any{}
	if host != nil {
		if err := host.Config(ctx, &cfg); err != nil {
			return nil, fmt.Errorf("reading the storage config: %w", err)
		}
	}
	st, err := s.p.OpenStorage(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, fmt.Errorf("%s: OpenStorage returned no storage", s.p.Manifest().Name)
	}
	s.st = st
	return st, nil
}

// Serve runs one call of method with the request message req and returns the framed
// response, like Serve. It never panics.
func (s *StorageServer) Serve(ctx context.Context, host hostapi.Host, method Method, req []byte) (resp []byte) {
	if method < MethodStorageOpen {
		return Serve(ctx, s.p, host, method, req)
	}
	defer func() {
		if v := recover(); v != nil {
			resp = Fail(fmt.Errorf("storage plugin panicked in %s: %v", method, v))
		}
	}()
	st, err := s.storage(ctx, host)
	if err != nil {
		return Fail(fmt.Errorf("opening the storage: %w", err))
	}
	d := NewDecoder(req)
	var encode func(*Encoder)
	switch method {
	case MethodStorageOpen:
		var features []string
		if _, ok := st.(hostapi.Chtimer); ok {
			features = append(features, FeatureChtimes)
		}
		if _, ok := st.(hostapi.Sweeper); ok {
			features = append(features, FeatureSweepTemp)
		}
		encode = func(e *Encoder) { e.Strings(features) }
	case MethodStat:
		name := d.String()
		if d.Err() == nil {
			var fi hostapi.FileInfo
			fi, err = st.Stat(ctx, name)
			encode = func(e *Encoder) { PutFileInfo(e, fi) }
		}
	case MethodList:
		dir, opts := d.String(), GetListOptions(d)
		if d.Err() == nil {
			var page hostapi.ListPage
			page, err = st.List(ctx, dir, opts)
			encode = func(e *Encoder) { PutListPage(e, page) }
		}
	case MethodOpen:
		name, offset, limit := d.String(), d.Int(), d.Uint()
		if d.Err() == nil {
			var resp []byte
			resp, err = s.open(ctx, st, name, offset, limit)
			if err == nil {
				return resp
			}
		}
	case MethodRead:
		id, limit := d.Uint(), d.Uint()
		if d.Err() == nil {
			var resp []byte
			resp, err = s.read(id, limit)
			if err == nil {
				return resp
			}
		}
	case MethodClose:
		id := d.Uint()
		if d.Err() == nil {
			err = s.finish(id, method, func(h *handle) error { return h.r.Close() })
		}
	case MethodCreate:
		name := d.String()
		if d.Err() == nil {
			var up hostapi.Upload
			// The upload outlives this call: it must not end with the call's context.
			up, err = st.Create(context.WithoutCancel(ctx), name)
			var id uint64
			if err == nil {
				id = s.add(&handle{up: up})
			}
			encode = func(e *Encoder) { e.Uint(id) }
		}
	case MethodWrite:
		id, data := d.Uint(), d.raw("data")
		if d.Err() == nil {
			err = s.write(id, data)
		}
	case MethodCommit:
		id, data := d.Uint(), d.raw("data")
		if d.Err() == nil {
			err = s.commit(ctx, id, data)
		}
	case MethodAbort:
		id := d.Uint()
		if d.Err() == nil {
			err = s.finish(id, method, func(h *handle) error { return h.up.Abort() })
		}
	case MethodMkdir, MethodRemove:
		name := d.String()
		if d.Err() == nil {
			if method == MethodMkdir {
				err = st.Mkdir(ctx, name)
			} else {
				err = st.Remove(ctx, name)
			}
		}
	case MethodRename:
		from, to := d.String(), d.String()
		if d.Err() == nil {
			err = st.Rename(ctx, from, to)
		}
	case MethodChtimes:
		name, mtime := d.String(), d.Time()
		c, ok := st.(hostapi.Chtimer)
		switch {
		case !ok:
			return Fail(fmt.Errorf("%w: this storage has no Chtimes", hostapi.ErrUnimplemented))
		case d.Err() == nil:
			err = c.Chtimes(ctx, name, mtime)
		}
	case MethodSweepTemp:
		sw, ok := st.(hostapi.Sweeper)
		if !ok {
			return Fail(fmt.Errorf("%w: this storage has no SweepTemp", hostapi.ErrUnimplemented))
		}
		var n int
		n, err = sw.SweepTemp(ctx)
		encode = func(e *Encoder) { e.Uint(uint64(max(n, 0))) }
	default:
		return unimplemented(s.p, method)
	}
	if derr := d.Err(); derr != nil {
		return Fail(fmt.Errorf("%s request: %w: %w", method, hostapi.ErrInvalid, derr))
	}
	if err != nil {
		return Fail(err)
	}
	return OK(encode)
}

// add registers h and returns its id.
func (s *StorageServer) add(h *handle) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.next
	s.next++
	s.handles[id] = h
	return id
}

// get returns the handle id of the given kind, or an error naming the method.
func (s *StorageServer) get(id uint64, method Method, upload bool) (*handle, error) {
	s.mu.Lock()
	h := s.handles[id]
	s.mu.Unlock()
	if h == nil || (h.up != nil) != upload {
		kind := "read"
		if upload {
			kind = "upload"
		}
		return nil, fmt.Errorf("%s: no open %s handle %d (closed, or opened before the plugin restarted): %w",
			method, kind, id, hostapi.ErrInvalid)
	}
	return h, nil
}

// finish runs end on the handle id and forgets it. Close takes read handles, Commit and
// Abort upload handles.
func (s *StorageServer) finish(id uint64, method Method, end func(*handle) error) error {
	h, err := s.get(id, method, method != MethodClose)
	if err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.handles, id)
	s.mu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	return end(h)
}

// open opens a reader and returns the response to Open: its handle and first chunk.
// A reader that reached its end is closed at once and has no handle (id 0).
func (s *StorageServer) open(ctx context.Context, st hostapi.Storage, name string, offset int64, limit uint64) ([]byte, error) {
	if offset < 0 {
		return nil, fmt.Errorf("open %q: negative offset %d: %w", name, offset, hostapi.ErrInvalid)
	}
	// The reader outlives this call: it must not end with the call's context.
	r, err := st.Open(context.WithoutCancel(ctx), name, offset)
	if err != nil {
		return nil, err
	}
	h := &handle{r: r}
	buf, k, eof, err := h.fill(limit)
	if err != nil || eof {
		r.Close()
		if err != nil {
			return nil, err
		}
		return chunkResponse(buf, k, true, 0), nil
	}
	return chunkResponse(buf, k, false, s.add(h)), nil
}

// read returns the response to Read: the next chunk of the reader id. At the end it
// closes the reader.
func (s *StorageServer) read(id, limit uint64) ([]byte, error) {
	h, err := s.get(id, MethodRead, false)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	buf, k, eof, err := h.fill(limit)
	h.mu.Unlock()
	if eof {
		s.finish(id, MethodClose, func(h *handle) error { return h.r.Close() })
	}
	if err != nil {
		return nil, err
	}
	return chunkResponse(buf, k, eof), nil
}

// chunkRoom is the room fill leaves before a chunk for the response's head: its code,
// and the handle and the chunk's length as varints.
const chunkRoom = 1 + 2*binary.MaxVarintLen64

// fill reads up to limit (at most ChunkMax) bytes into a chunk buffer, at chunkRoom,
// with a byte to spare after them: the chunk is read where its response carries it,
// rather than copied there. eof reports the reader's end.
func (h *handle) fill(limit uint64) (buf []byte, k int, eof bool, err error) {
	n := int(min(max(limit, 1), ChunkMax))
	buf = ChunkBuffer(chunkRoom + n + 1)
	k, err = io.ReadFull(h.r, buf[chunkRoom:chunkRoom+n])
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return buf, k, true, nil
	case err != nil:
		RecycleChunk(buf)
		return nil, 0, false, err
	}
	return buf, k, false, nil
}

// chunkResponse frames the k bytes fill read into buf as a successful response: that
// of Read (data, eof) or, given the handle id, that of Open (id, data, eof).
func chunkResponse(buf []byte, k int, eof bool, id ...uint64) []byte {
	end := chunkRoom + k
	buf[end] = 0
	if eof {
		buf[end] = 1
	}
	var room [chunkRoom]byte
	head := append(room[:0], byte(hostapi.CodeOK))
	for _, v := range id {
		head = binary.AppendUvarint(head, v)
	}
	head = binary.AppendUvarint(head, uint64(k))
	start := chunkRoom - len(head)
	copy(buf[start:], head)
	return buf[start : end+1]
}

// write appends data to the upload id.
func (s *StorageServer) write(id uint64, data []byte) error {
	if len(data) > ChunkMax {
		return fmt.Errorf("%s: %d bytes, at most %d: %w", MethodWrite, len(data), ChunkMax, hostapi.ErrTooLarge)
	}
	h, err := s.get(id, MethodWrite, true)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err = h.up.Write(data)
	return err
}

// commit writes the last data and commits the upload id; on failure it aborts it.
// Either way the handle is gone.
func (s *StorageServer) commit(ctx context.Context, id uint64, data []byte) error {
	if len(data) > ChunkMax {
		return fmt.Errorf("%s: %d bytes, at most %d: %w", MethodCommit, len(data), ChunkMax, hostapi.ErrTooLarge)
	}
	return s.finish(id, MethodCommit, func(h *handle) error {
		if len(data) > 0 {
			if _, err := h.up.Write(data); err != nil {
				h.up.Abort()
				return err
			}
		}
		if err := h.up.Commit(ctx); err != nil {
			h.up.Abort()
			return err
		}
		return nil
	})
}

// Restartable is a Conn whose plugin may restart (a process, a wasm instance): the
// handles of one generation are gone in the next.
type Restartable interface {
	// Generation counts the plugin's starts.
	Generation() uint64
}

// TransportError is the error of a call that failed in its transport (a trap, a
// crash, a deadline) rather than with an error answer from the plugin.
type TransportError struct{ Err error }

// Error returns the transport's message.
func (e *TransportError) Error() string { return e.Err.Error() }

// Unwrap returns the transport's error.
func (e *TransportError) Unwrap() error { return e.Err }

// storageClient is the storage plugin behind a Conn, as a hostapi.Storage.
type storageClient struct {
	remote
	host hostapi.Host
}

// NewStorage returns the storage plugin behind conn, whose manifest was read with
// ReadManifest: it calls StorageOpen, which opens the plugin's backend, and returns a
// hostapi.Storage that implements hostapi.Chtimer and hostapi.Sweeper when the plugin
// reports them. host serves the plugin's host calls.
func NewStorage(ctx context.Context, conn Conn, m hostapi.Manifest, host hostapi.Host) (hostapi.Storage, error) {
	c := &storageClient{remote{conn, m}, host}
	var features []string
	if err := c.call(ctx, MethodStorageOpen, nil, func(d *Decoder) { features = d.Strings() }); err != nil {
		return nil, err
	}
	var chtimes, sweep bool
	for _, f := range features {
		chtimes = chtimes || f == FeatureChtimes
		sweep = sweep || f == FeatureSweepTemp
	}
	switch {
	case chtimes && sweep:
		return struct {
			*storageClient
			chtimer
			sweeper
		}{c, chtimer{c}, sweeper{c}}, nil
	case chtimes:
		return struct {
			*storageClient
			chtimer
		}{c, chtimer{c}}, nil
	case sweep:
		return struct {
			*storageClient
			sweeper
		}{c, sweeper{c}}, nil
	}
	return c, nil
}

func (c *storageClient) call(ctx context.Context, m Method, encode func(*Encoder), decode func(*Decoder)) error {
	return call(ctx, c.conn, c.host, m, encode, decode)
}

// generation is the plugin's current generation, 0 for a Conn that never restarts.
func (c *storageClient) generation() uint64 {
	if r, ok := c.conn.(Restartable); ok {
		return r.Generation()
	}
	return 0
}

func (c *storageClient) Stat(ctx context.Context, name string) (hostapi.FileInfo, error) {
	var fi hostapi.FileInfo
	err := c.call(ctx, MethodStat, func(e *Encoder) { e.String(name) }, func(d *Decoder) { fi = GetFileInfo(d) })
	return fi, err
}

func (c *storageClient) List(ctx context.Context, dir string, opts hostapi.ListOptions) (hostapi.ListPage, error) {
	var p hostapi.ListPage
	err := c.call(ctx, MethodList, func(e *Encoder) { e.String(dir); PutListOptions(e, opts) },
		func(d *Decoder) { p = GetListPage(d) })
	return p, err
}

func (c *storageClient) Open(ctx context.Context, name string, offset int64) (io.ReadCloser, error) {
	r := &reader{c: c, ctx: context.WithoutCancel(ctx), gen: c.generation(), next: ChunkMin * 2, name: name}
	err := c.call(ctx, MethodOpen, func(e *Encoder) { e.String(name); e.Int(offset); e.Uint(ChunkMin) },
		func(d *Decoder) { r.id = d.Uint(); r.buf = d.Blob(); r.eof = d.Bool() })
	if err != nil {
		return nil, err
	}
	if !r.eof && r.id == 0 {
		return nil, fmt.Errorf("plugin returned no handle for %q", name)
	}
	return r, nil
}

func (c *storageClient) Create(ctx context.Context, name string) (hostapi.Upload, error) {
	u := &upload{c: c, ctx: context.WithoutCancel(ctx), gen: c.generation(), name: name}
	if err := c.call(ctx, MethodCreate, func(e *Encoder) { e.String(name) }, func(d *Decoder) { u.id = d.Uint() }); err != nil {
		return nil, err
	}
	return u, nil
}

func (c *storageClient) Mkdir(ctx context.Context, name string) error {
	return c.call(ctx, MethodMkdir, func(e *Encoder) { e.String(name) }, nil)
}

func (c *storageClient) Rename(ctx context.Context, from, to string) error {
	return c.call(ctx, MethodRename, func(e *Encoder) { e.String(from); e.String(to) }, nil)
}

func (c *storageClient) Remove(ctx context.Context, name string) error {
	return c.call(ctx, MethodRemove, func(e *Encoder) { e.String(name) }, nil)
}

type chtimer struct{ c *storageClient }

func (t chtimer) Chtimes(ctx context.Context, name string, mtime time.Time) error {
	return t.c.call(ctx, MethodChtimes, func(e *Encoder) { e.String(name); e.Time(mtime) }, nil)
}

type sweeper struct{ c *storageClient }

func (s sweeper) SweepTemp(ctx context.Context) (int, error) {
	var n uint64
	err := s.c.call(ctx, MethodSweepTemp, nil, func(d *Decoder) { n = d.Uint() })
	return int(min(n, 1<<31)), err
}

// handleCall makes a call on a read or upload handle opened in generation gen, for
// the file name. gone reports that the handle no longer exists in the plugin: the call
// failed in its transport, or the plugin restarted since the handle was opened (then
// the call is not even sent, or its error says so).
func (c *storageClient) handleCall(ctx context.Context, gen uint64, name string, m Method, encode func(*Encoder), decode func(*Decoder)) (err error, gone bool) {
	return c.handleDo(gen, name, m, func() error { return c.call(ctx, m, encode, decode) })
}

// handleDo is handleCall with the call made by do.
func (c *storageClient) handleDo(gen uint64, name string, m Method, do func() error) (err error, gone bool) {
	lost := func() error {
		return fmt.Errorf("%s %q: the storage plugin restarted since the file was opened, and its open files with it (nothing was committed)", m, name)
	}
	if c.generation() != gen {
		return lost(), true
	}
	err = do()
	switch {
	case err == nil:
		return nil, false
	case c.generation() != gen:
		return fmt.Errorf("%w: %w", lost(), err), true
	case isTransport(err):
		return fmt.Errorf("%s %q: %w", m, name, err), true
	}
	return fmt.Errorf("%s %q: %w", m, name, err), false
}

// chunkRequest is the request (id, data) of Write or Commit, built in a chunk buffer:
// the encoders' pool keeps no buffer of chunk size, and a fresh one per chunk costs
// about as much as sending it.
func chunkRequest(id uint64, data []byte) []byte {
	var head [2 * binary.MaxVarintLen64]byte
	h := binary.AppendUvarint(head[:0], id)
	h = binary.AppendUvarint(h, uint64(len(data)))
	req := ChunkBuffer(len(h) + len(data))
	copy(req[copy(req, h):], data)
	return req
}

// callChunk makes the call m (Write or Commit) with the request chunkRequest built,
// and recycles it: a transport is done with a request when its Call returns.
func (c *storageClient) callChunk(ctx context.Context, m Method, req []byte) error {
	resp, err := c.conn.Call(ctx, c.host, m, req)
	RecycleChunk(req)
	if err != nil {
		return &TransportError{err}
	}
	if _, err := Result(resp); err != nil {
		if errors.Is(err, ErrMalformed) {
			return fmt.Errorf("plugin returned a malformed %s response (%d bytes): %w", m, len(resp), err)
		}
		return err
	}
	return nil
}

// isTransport reports whether err is a transport failure: the plugin (or its
// instance) is gone, and with it the handle.
func isTransport(err error) bool {
	var te *TransportError
	return errors.As(err, &te)
}

// reader is a file being read from a storage plugin, chunk by chunk. While the
// caller consumes one chunk, the next one is already being fetched (by a goroutine the
// reader owns: Read and Close wait for it), so the plugin and the host work at once.
type reader struct {
	c    *storageClient
	ctx  context.Context
	gen  uint64
	name string

	mu    sync.Mutex
	id    uint64 // 0 once the plugin closed it
	buf   []byte // read but not yet returned: a slice of resp
	resp  []byte // the response buf is in, recycled once buf is used up
	eof   bool   // the plugin reached the end and closed the handle
	next  uint64 // the size of the next chunk
	err   error  // sticky
	ahead chan chunk
}

// chunk is the answer to one Read.
type chunk struct {
	resp []byte // the response data is in
	data []byte
	eof  bool
	err  error
	gone bool // the handle no longer exists in the plugin
}

// Read returns the bytes of the chunk in hand, fetching the next when it is used up.
func (r *reader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.buf) == 0 {
		if r.resp != nil {
			RecycleChunk(r.resp)
			r.resp = nil
		}
		switch {
		case r.err != nil:
			return 0, r.err
		case r.eof:
			return 0, io.EOF
		}
		var ch chunk
		if r.ahead != nil {
			ch = <-r.ahead
			r.ahead = nil
		} else {
			ch = r.fetch(r.id, r.size())
		}
		r.take(ch)
		if !r.eof && r.err == nil {
			id, n := r.id, r.size()
			r.ahead = make(chan chunk, 1)
			go func() { r.ahead <- r.fetch(id, n) }()
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// size is the size of the next chunk (r.mu held): chunks double up to ChunkMax.
func (r *reader) size() uint64 {
	n := r.next
	r.next = min(r.next*2, ChunkMax)
	return n
}

// fetch reads the next n bytes of the handle id. It touches no field that Read or
// Close change while it runs. The chunk stays in the response, uncopied: the
// response is the reader's alone.
func (r *reader) fetch(id, n uint64) chunk {
	var ch chunk
	ch.err, ch.gone = r.c.handleDo(r.gen, r.name, MethodRead, func() error {
		var req [2 * binary.MaxVarintLen64]byte
		resp, err := r.c.conn.Call(r.ctx, r.c.host, MethodRead, binary.AppendUvarint(binary.AppendUvarint(req[:0], id), n))
		if err != nil {
			return &TransportError{err}
		}
		d, err := Result(resp)
		if err != nil {
			if errors.Is(err, ErrMalformed) {
				return fmt.Errorf("plugin returned a malformed %s response (%d bytes): %w", MethodRead, len(resp), err)
			}
			return err
		}
		ch.resp, ch.data, ch.eof = resp, d.raw("bytes"), d.Bool()
		if err := d.Err(); err != nil {
			return fmt.Errorf("plugin returned a malformed %s result: %w", MethodRead, err)
		}
		return nil
	})
	return ch
}

// take applies a fetched chunk (r.mu held). On an error it makes it sticky and closes
// the handle in the plugin, unless the handle is gone.
func (r *reader) take(ch chunk) {
	switch {
	case ch.err != nil:
		r.err = ch.err
		if !ch.gone && r.id != 0 {
			r.c.call(r.ctx, MethodClose, func(e *Encoder) { e.Uint(r.id) }, nil)
		}
		r.id = 0
	case ch.eof:
		r.buf, r.resp, r.eof, r.id = ch.data, ch.resp, true, 0
	default:
		r.buf, r.resp = ch.data, ch.resp
	}
}

// Close closes the handle in the plugin, if it is still open there, once the chunk
// being fetched (if any) has arrived.
func (r *reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ahead != nil {
		ch := <-r.ahead
		if ch.eof || ch.gone {
			r.id = 0 // the plugin closed it, or is gone with it
		}
		if ch.resp != nil {
			RecycleChunk(ch.resp)
		}
		r.ahead = nil
	}
	id := r.id
	r.id, r.buf = 0, nil
	if r.resp != nil {
		RecycleChunk(r.resp)
		r.resp = nil
	}
	if r.err == nil {
		r.err = errors.New("read after Close")
	}
	if id == 0 {
		return nil
	}
	err, gone := r.c.handleCall(r.ctx, r.gen, r.name, MethodClose, func(e *Encoder) { e.Uint(id) }, nil)
	if gone {
		return nil // the plugin, and the handle with it, is gone
	}
	return err
}

// upload states.
const (
	upOpen = iota
	upCommitted
	upAborted
	upFailed // a call failed; the upload was aborted
)

// upload is a file being written to a storage plugin: writes are gathered into
// chunks of ChunkMax bytes, the last one travels with Commit.
//
// A full chunk is written behind: Write copies it into the request and returns while
// the plugin stores it, so that the caller produces the next chunk meanwhile (a
// process plugin's memory backend took as long to store a chunk as the host to send
// it). One Write is in flight at most, as the plugin takes one call per handle at a
// time, in order; its failure is reported when the next chunk is sent (a Write that
// only gathers bytes reports none), or by Commit.
type upload struct {
	c    *storageClient
	ctx  context.Context
	gen  uint64
	id   uint64
	name string

	mu       sync.Mutex
	buf      []byte
	state    int
	err      error       // why it failed
	inflight chan result // the outcome of the Write in flight, nil if none
}

// result is the outcome of a call on a handle.
type result struct {
	err  error
	gone bool // the handle no longer exists in the plugin
}

// Write gathers p into chunks and sends each full one.
func (u *upload) Write(p []byte) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if err := u.usable(); err != nil {
		return 0, err
	}
	written := 0
	for len(p) > 0 {
		if len(u.buf) == 0 && len(p) >= ChunkMax { // a whole chunk: send it from p
			if err := u.send(p[:ChunkMax]); err != nil {
				return written, err
			}
			p, written = p[ChunkMax:], written+ChunkMax
			continue
		}
		k := min(len(p), ChunkMax-len(u.buf))
		u.buf = append(u.buf, p[:k]...)
		p, written = p[k:], written+k
		if len(u.buf) == ChunkMax {
			if err := u.send(u.buf); err != nil {
				return written, err
			}
			u.buf = u.buf[:0]
		}
	}
	return written, nil
}

// usable returns why the upload takes no more calls, or nil (u.mu held).
func (u *upload) usable() error {
	switch {
	case u.state == upFailed:
		return u.err
	case u.state != upOpen:
		return fmt.Errorf("upload %q: already committed or aborted", u.name)
	}
	return nil
}

// send starts sending one chunk, once the previous one arrived (u.mu held). data is
// copied before it returns.
func (u *upload) send(data []byte) error {
	if err := u.settle(); err != nil {
		return err
	}
	req := chunkRequest(u.id, data)
	done := make(chan result, 1)
	go func() {
		err, gone := u.c.handleDo(u.gen, u.name, MethodWrite, func() error { return u.c.callChunk(u.ctx, MethodWrite, req) })
		done <- result{err, gone}
	}()
	u.inflight = done
	return nil
}

// settle waits for the Write in flight, if any, and returns its error, having
// failed the upload (u.mu held).
func (u *upload) settle() error {
	if u.inflight == nil {
		return nil
	}
	return u.land(<-u.inflight)
}

// land applies the outcome of the Write in flight (u.mu held).
func (u *upload) land(res result) error {
	u.inflight = nil
	if res.err != nil {
		u.failed(res.err, res.gone)
	}
	return res.err
}

// failed records why the upload failed and aborts it in the plugin, unless the
// plugin, and the upload with it, is gone (u.mu held).
func (u *upload) failed(err error, gone bool) {
	u.state, u.err = upFailed, err
	if !gone {
		u.c.handleCall(u.ctx, u.gen, u.name, MethodAbort, func(e *Encoder) { e.Uint(u.id) }, nil)
	}
	u.buf = nil
}

// Commit sends the last chunk and commits the upload. On failure the plugin has
// aborted the upload, or is gone with it.
func (u *upload) Commit(ctx context.Context) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.settle() // its failure is usable's
	if err := u.usable(); err != nil {
		return err
	}
	req := chunkRequest(u.id, u.buf)
	err, _ := u.c.handleDo(u.gen, u.name, MethodCommit, func() error { return u.c.callChunk(ctx, MethodCommit, req) })
	u.buf = nil
	if err != nil {
		u.state, u.err = upFailed, err
		return err
	}
	u.state = upCommitted
	return nil
}

// Abort discards the upload; it does nothing after Commit, a failure or an Abort.
func (u *upload) Abort() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.settle() // a failed Write has aborted the upload
	if u.state != upOpen {
		return nil
	}
	u.state, u.buf = upAborted, nil
	err, gone := u.c.handleCall(u.ctx, u.gen, u.name, MethodAbort, func(e *Encoder) { e.Uint(u.id) }, nil)
	if gone {
		return nil // the plugin, and the upload with it, is gone
	}
	return err
}
