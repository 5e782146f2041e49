package wire

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// HostOp numbers a host call (the op argument of host_call).
type HostOp uint32

// The host calls of host API v1; ABI.md gives each one's request and result.
const (
	OpLog       HostOp = 1  // level Int, msg String → ()
	OpConfig    HostOp = 2  // () → json Blob
	OpNow       HostOp = 3  // () → Time
	OpStat      HostOp = 4  // backend, path → FileInfo
	OpList      HostOp = 5  // backend, dir, ListOptions → ListPage
	OpReadFile  HostOp = 6  // backend, path, offset Int, limit Int → data Blob
	OpWriteFile HostOp = 7  // backend, path, data Blob → ()
	OpCopy      HostOp = 8  // srcBackend, src, dstBackend, dst → ()
	OpMove      HostOp = 9  // backend, from, to → ()
	OpDelete    HostOp = 10 // backend, path → ()
	OpMkdir     HostOp = 11 // backend, path → ()
	OpHTTP      HostOp = 12 // HTTPRequest → HTTPResponse
	OpKVGet     HostOp = 13 // key → found Bool, value Blob
	OpKVPut     HostOp = 14 // key, value Blob → ()
	OpKVDelete  HostOp = 15 // key → ()
)

var opNames = [...]string{"", "log", "config", "now", "storage.stat", "storage.list", "storage.read",
	"storage.write", "storage.copy", "storage.move", "storage.delete", "storage.mkdir", "http", "kv.get",
	"kv.put", "kv.delete"}

// String is the host call's name, as error messages give it.
func (op HostOp) String() string {
	if op > 0 && int(op) < len(opNames) {
		return opNames[op]
	}
	return fmt.Sprintf("host call %d", uint32(op))
}

// ServeHost runs one host call op of a plugin on h and returns the framed response.
// A malformed request is a CodeInvalid error; it never panics.
func ServeHost(ctx context.Context, h hostapi.Host, op HostOp, req []byte) []byte {
	d := NewDecoder(req)
	var encode func(*Encoder)
	var err error
	switch op {
	case OpLog:
		level, msg := hostapi.LogLevel(d.Int()), d.String()
		if d.Err() == nil {
			err = h.Log(ctx, level, msg)
		}
	case OpConfig:
		var raw json.RawMessage
		err = h.Config(ctx, &raw)
		encode = func(e *Encoder) { e.Blob(raw) }
	case OpNow:
		now := h.Now(ctx)
		encode = func(e *Encoder) { e.Time(now) }
	case OpStat:
		backend, path := d.String(), d.String()
		if d.Err() == nil {
			var fi hostapi.FileInfo
			fi, err = h.Stat(ctx, backend, path)
			encode = func(e *Encoder) { PutFileInfo(e, fi) }
		}
	case OpList:
		backend, dir, opts := d.String(), d.String(), GetListOptions(d)
		if d.Err() == nil {
			var page hostapi.ListPage
			page, err = h.List(ctx, backend, dir, opts)
			encode = func(e *Encoder) { PutListPage(e, page) }
		}
	case OpReadFile:
		backend, path, offset, limit := d.String(), d.String(), d.Int(), d.Int()
		if d.Err() == nil {
			var data []byte
			data, err = h.ReadFile(ctx, backend, path, offset, limit)
			encode = func(e *Encoder) { e.Blob(data) }
		}
	case OpWriteFile:
		backend, path, data := d.String(), d.String(), d.raw("data")
		if d.Err() == nil {
			err = h.WriteFile(ctx, backend, path, data)
		}
	case OpCopy:
		sb, src, db, dst := d.String(), d.String(), d.String(), d.String()
		if d.Err() == nil {
			err = h.Copy(ctx, sb, src, db, dst)
		}
	case OpMove:
		backend, from, to := d.String(), d.String(), d.String()
		if d.Err() == nil {
			err = h.Move(ctx, backend, from, to)
		}
	case OpDelete, OpMkdir:
		backend, path := d.String(), d.String()
		if d.Err() == nil {
			if op == OpDelete {
				err = h.Delete(ctx, backend, path)
			} else {
				err = h.Mkdir(ctx, backend, path)
			}
		}
	case OpHTTP:
		req := GetHTTPRequest(d)
		if d.Err() == nil {
			var resp hostapi.HTTPResponse
			resp, err = h.HTTP(ctx, req)
			encode = func(e *Encoder) { PutHTTPResponse(e, resp) }
		}
	case OpKVGet:
		key := d.String()
		if d.Err() == nil {
			var value []byte
			var found bool
			value, found, err = h.KVGet(ctx, key)
			encode = func(e *Encoder) { e.Bool(found); e.Blob(value) }
		}
	case OpKVPut:
		key, value := d.String(), d.raw("value")
		if d.Err() == nil {
			err = h.KVPut(ctx, key, value)
		}
	case OpKVDelete:
		key := d.String()
		if d.Err() == nil {
			err = h.KVDelete(ctx, key)
		}
	default:
		return Fail(fmt.Errorf("%w: unknown host call %d (this host serves API %s)", hostapi.ErrUnimplemented, op, hostapi.Version))
	}
	if derr := d.Err(); derr != nil {
		return Fail(fmt.Errorf("%s request: %w: %w", op, hostapi.ErrInvalid, derr))
	}
	if err != nil {
		return Fail(err)
	}
	return OK(encode)
}

// HostFunc carries one host call from a plugin to the host and returns the framed
// response; its error is a transport failure.
type HostFunc func(ctx context.Context, op HostOp, req []byte) ([]byte, error)

// NewHost returns the hostapi.Host a plugin uses, which sends every call through fn.
// The config is fetched once and cached.
func NewHost(fn HostFunc) hostapi.Host { return &hostClient{fn: fn} }

type hostClient struct {
	fn HostFunc

	configOnce sync.Once
	config     []byte
	configErr  error
}

func (h *hostClient) do(ctx context.Context, op HostOp, encode func(*Encoder), decode func(*Decoder)) error {
	var e Encoder
	if encode != nil {
		encode(&e)
	}
	resp, err := h.fn(ctx, op, e.Bytes())
	if err != nil {
		return fmt.Errorf("host call %s: %w", op, err)
	}
	d, err := Result(resp)
	if err != nil {
		return err
	}
	if decode != nil {
		decode(d)
		if err := d.Err(); err != nil {
			return fmt.Errorf("host call %s: %w", op, err)
		}
	}
	return nil
}

func (h *hostClient) Log(ctx context.Context, level hostapi.LogLevel, msg string) error {
	return h.do(ctx, OpLog, func(e *Encoder) { e.Int(int64(level)); e.String(msg) }, nil)
}

func (h *hostClient) Config(ctx context.Context, v any) error {
	h.configOnce.Do(func() {
		h.configErr = h.do(ctx, OpConfig, nil, func(d *Decoder) { h.config = d.Blob() })
	})
	if h.configErr != nil {
		return h.configErr
	}
	if len(h.config) == 0 {
		return nil
	}
	if err := json.Unmarshal(h.config, v); err != nil {
		return fmt.Errorf("decoding the plugin's config: %w", err)
	}
	return nil
}

func (h *hostClient) Now(ctx context.Context) time.Time {
	var t time.Time
	if err := h.do(ctx, OpNow, nil, func(d *Decoder) { t = d.Time() }); err != nil {
		return time.Now()
	}
	return t
}

func (h *hostClient) Stat(ctx context.Context, backend, path string) (hostapi.FileInfo, error) {
	var fi hostapi.FileInfo
	err := h.do(ctx, OpStat, func(e *Encoder) { e.String(backend); e.String(path) },
		func(d *Decoder) { fi = GetFileInfo(d) })
	return fi, err
}

func (h *hostClient) List(ctx context.Context, backend, dir string, opts hostapi.ListOptions) (hostapi.ListPage, error) {
	var p hostapi.ListPage
	err := h.do(ctx, OpList, func(e *Encoder) { e.String(backend); e.String(dir); PutListOptions(e, opts) },
		func(d *Decoder) { p = GetListPage(d) })
	return p, err
}

func (h *hostClient) ReadFile(ctx context.Context, backend, path string, offset, limit int64) ([]byte, error) {
	var data []byte
	err := h.do(ctx, OpReadFile, func(e *Encoder) { e.String(backend); e.String(path); e.Int(offset); e.Int(limit) },
		func(d *Decoder) { data = d.Blob() })
	return data, err
}

func (h *hostClient) WriteFile(ctx context.Context, backend, path string, data []byte) error {
	return h.do(ctx, OpWriteFile, func(e *Encoder) { e.String(backend); e.String(path); e.Blob(data) }, nil)
}

func (h *hostClient) Copy(ctx context.Context, srcBackend, src, dstBackend, dst string) error {
	return h.do(ctx, OpCopy, func(e *Encoder) { e.String(srcBackend); e.String(src); e.String(dstBackend); e.String(dst) }, nil)
}

func (h *hostClient) Move(ctx context.Context, backend, from, to string) error {
	return h.do(ctx, OpMove, func(e *Encoder) { e.String(backend); e.String(from); e.String(to) }, nil)
}

func (h *hostClient) Delete(ctx context.Context, backend, path string) error {
	return h.do(ctx, OpDelete, func(e *Encoder) { e.String(backend); e.String(path) }, nil)
}

func (h *hostClient) Mkdir(ctx context.Context, backend, path string) error {
	return h.do(ctx, OpMkdir, func(e *Encoder) { e.String(backend); e.String(path) }, nil)
}

func (h *hostClient) HTTP(ctx context.Context, req hostapi.HTTPRequest) (hostapi.HTTPResponse, error) {
	var resp hostapi.HTTPResponse
	err := h.do(ctx, OpHTTP, func(e *Encoder) { PutHTTPRequest(e, req) }, func(d *Decoder) { resp = GetHTTPResponse(d) })
	return resp, err
}

func (h *hostClient) KVGet(ctx context.Context, key string) ([]byte, bool, error) {
	var value []byte
	var found bool
	err := h.do(ctx, OpKVGet, func(e *Encoder) { e.String(key) }, func(d *Decoder) { found = d.Bool(); value = d.Blob() })
	return value, found, err
}

func (h *hostClient) KVPut(ctx context.Context, key string, value []byte) error {
	return h.do(ctx, OpKVPut, func(e *Encoder) { e.String(key); e.Blob(value) }, nil)
}

func (h *hostClient) KVDelete(ctx context.Context, key string) error {
	return h.do(ctx, OpKVDelete, func(e *Encoder) { e.String(key) }, nil)
}
