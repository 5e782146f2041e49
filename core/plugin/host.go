package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// grants is a parsed allow list.
type grants struct {
	log, kv bool
	storage map[string]bool
	http    []string // host, host:port, or *.domain
}

func parseGrants(allow []string) (grants, error) {
	g := grants{storage: map[string]bool{}}
	for _, c := range allow {
		kind, arg, ok := hostapi.ParseCapability(c)
		if !ok {
			return g, fmt.Errorf("allow: %q is not a capability (want log, kv, storage:NAME or http:HOST)", c)
		}
		switch kind {
		case hostapi.CapLog:
			g.log = true
		case hostapi.CapKV:
			g.kv = true
		case "storage":
			g.storage[arg] = true
		case "http":
			g.http = append(g.http, strings.ToLower(arg))
		}
	}
	return g, nil
}

// has reports whether capability c is granted.
func (g grants) has(c string) bool {
	kind, arg, _ := hostapi.ParseCapability(c)
	switch kind {
	case hostapi.CapLog:
		return g.log
	case hostapi.CapKV:
		return g.kv
	case "storage":
		return g.storage[arg]
	case "http":
		return g.allowsHTTP(arg)
	}
	return false
}

// allowsHTTP reports whether a request to hostport (host or host:port) is granted.
func (g grants) allowsHTTP(hostport string) bool {
	hostport = strings.ToLower(hostport)
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	for _, a := range g.http {
		switch {
		case a == hostport, a == host:
			return true
		case strings.HasPrefix(a, "*.") && strings.HasSuffix(host, a[1:]):
			return true
		}
	}
	return false
}

// host is the hostapi.Host of one loaded plugin: every call checked against its grants.
type host struct {
	name    string
	grants  grants
	config  []byte // the config table as JSON
	storage func(name string) (hostapi.Storage, bool)
	kv      KV
	http    *http.Client
	log     *slog.Logger
	now     func() time.Time
}

func (h *host) need(call, grant string) error {
	if h.grants.has(grant) {
		return nil
	}
	return &hostapi.NotGrantedError{Plugin: h.name, Call: call, Grant: grant}
}

func (h *host) backend(call, name, p string) (hostapi.Storage, error) {
	if err := h.need(call, hostapi.CapStorage(name)); err != nil {
		return nil, err
	}
	if !path.IsAbs(p) || path.Clean(p) != p {
		return nil, fmt.Errorf("%s: path %q is not clean and absolute: %w", call, p, hostapi.ErrInvalid)
	}
	if h.storage != nil {
		if s, ok := h.storage(name); ok {
			return s, nil
		}
	}
	return nil, fmt.Errorf("%s: no storage backend named %q in gateway.toml: %w", call, name, hostapi.ErrNotExist)
}

func (h *host) Log(ctx context.Context, level hostapi.LogLevel, msg string) error {
	if err := h.need("log", hostapi.CapLog); err != nil {
		return err
	}
	h.log.Log(ctx, slog.Level(level), msg, "plugin", h.name)
	return nil
}

func (h *host) Config(_ context.Context, v any) error {
	if err := json.Unmarshal(h.config, v); err != nil {
		return fmt.Errorf("plugin %q config: %w", h.name, err)
	}
	return nil
}

func (h *host) Now(context.Context) time.Time { return h.now() }

func (h *host) Stat(ctx context.Context, backend, p string) (hostapi.FileInfo, error) {
	s, err := h.backend("storage.stat", backend, p)
	if err != nil {
		return hostapi.FileInfo{}, err
	}
	return s.Stat(ctx, p)
}

func (h *host) List(ctx context.Context, backend, dir string, opts hostapi.ListOptions) (hostapi.ListPage, error) {
	s, err := h.backend("storage.list", backend, dir)
	if err != nil {
		return hostapi.ListPage{}, err
	}
	return s.List(ctx, dir, opts)
}

func (h *host) ReadFile(ctx context.Context, backend, p string, offset, limit int64) ([]byte, error) {
	s, err := h.backend("storage.read", backend, p)
	if err != nil {
		return nil, err
	}
	if offset < 0 || limit < 0 {
		return nil, fmt.Errorf("storage.read: negative offset or limit: %w", hostapi.ErrInvalid)
	}
	limit = min(limit, hostapi.MaxChunk)
	r, err := s.Open(ctx, p, offset)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, limit))
}

func (h *host) WriteFile(ctx context.Context, backend, p string, data []byte) error {
	s, err := h.backend("storage.write", backend, p)
	if err != nil {
		return err
	}
	if len(data) > hostapi.MaxChunk {
		return fmt.Errorf("storage.write: %d bytes, at most %d: use storage.copy for large files: %w",
			len(data), hostapi.MaxChunk, hostapi.ErrTooLarge)
	}
	if err := mkdirAll(ctx, s, path.Dir(p)); err != nil {
		return err
	}
	up, err := s.Create(ctx, p)
	if err != nil {
		return err
	}
	if _, err := up.Write(data); err != nil {
		up.Abort()
		return err
	}
	return up.Commit(ctx)
}

func (h *host) Copy(ctx context.Context, srcBackend, src, dstBackend, dst string) error {
	from, err := h.backend("storage.copy", srcBackend, src)
	if err != nil {
		return err
	}
	to, err := h.backend("storage.copy", dstBackend, dst)
	if err != nil {
		return err
	}
	r, err := from.Open(ctx, src, 0)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := mkdirAll(ctx, to, path.Dir(dst)); err != nil {
		return err
	}
	up, err := to.Create(ctx, dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(up, r); err != nil {
		up.Abort()
		return fmt.Errorf("storage.copy %s:%s → %s:%s: %w", srcBackend, src, dstBackend, dst, err)
	}
	return up.Commit(ctx)
}

func (h *host) Move(ctx context.Context, backend, from, to string) error {
	s, err := h.backend("storage.move", backend, from)
	if err != nil {
		return err
	}
	if _, err := h.backend("storage.move", backend, to); err != nil {
		return err
	}
	if err := mkdirAll(ctx, s, path.Dir(to)); err != nil {
		return err
	}
	return s.Rename(ctx, from, to)
}

func (h *host) Delete(ctx context.Context, backend, p string) error {
	s, err := h.backend("storage.delete", backend, p)
	if err != nil {
		return err
	}
	return s.Remove(ctx, p)
}

func (h *host) Mkdir(ctx context.Context, backend, p string) error {
	s, err := h.backend("storage.mkdir", backend, p)
	if err != nil {
		return err
	}
	return mkdirAll(ctx, s, p)
}

// mkdirAll creates dir and its missing parents.
func mkdirAll(ctx context.Context, s hostapi.Storage, dir string) error {
	if dir == "/" {
		return nil
	}
	fi, err := s.Stat(ctx, dir)
	switch {
	case err == nil && fi.IsDir:
		return nil
	case err == nil:
		return fmt.Errorf("%s: %w", dir, hostapi.ErrNotDir)
	case !errors.Is(err, hostapi.ErrNotExist):
		return err
	}
	if err := mkdirAll(ctx, s, path.Dir(dir)); err != nil {
		return err
	}
	if err := s.Mkdir(ctx, dir); err != nil && !errors.Is(err, hostapi.ErrExist) {
		return err
	}
	return nil
}

func (h *host) HTTP(ctx context.Context, req hostapi.HTTPRequest) (hostapi.HTTPResponse, error) {
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return hostapi.HTTPResponse{}, fmt.Errorf("http: %q is not an absolute http(s) URL: %w", req.URL, hostapi.ErrInvalid)
	}
	if !h.grants.allowsHTTP(u.Host) {
		return hostapi.HTTPResponse{}, h.need("http", hostapi.CapHTTP(u.Hostname()))
	}
	if len(req.Body) > hostapi.MaxChunk {
		return hostapi.HTTPResponse{}, fmt.Errorf("http: request body over %d bytes: %w", hostapi.MaxChunk, hostapi.ErrTooLarge)
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	hr, err := http.NewRequestWithContext(ctx, method, req.URL, strings.NewReader(string(req.Body)))
	if err != nil {
		return hostapi.HTTPResponse{}, fmt.Errorf("http: %w: %w", hostapi.ErrInvalid, err)
	}
	for _, hd := range req.Header {
		hr.Header.Add(hd.Name, hd.Value)
	}
	client := *h.http
	client.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("stopped after 5 redirects")
		}
		if !h.grants.allowsHTTP(r.URL.Host) {
			return h.need("http (redirect)", hostapi.CapHTTP(r.URL.Hostname()))
		}
		return nil
	}
	resp, err := client.Do(hr)
	if err != nil {
		return hostapi.HTTPResponse{}, fmt.Errorf("http %s %s: %w", method, u.Redacted(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, hostapi.MaxChunk+1))
	if err != nil {
		return hostapi.HTTPResponse{}, fmt.Errorf("http %s %s: reading the response: %w", method, u.Redacted(), err)
	}
	out := hostapi.HTTPResponse{Status: resp.StatusCode, Body: body}
	if len(body) > hostapi.MaxChunk {
		out.Body, out.Truncated = body[:hostapi.MaxChunk], true
	}
	for name, values := range resp.Header {
		for _, v := range values {
			out.Header = append(out.Header, hostapi.Header{Name: name, Value: v})
		}
	}
	return out, nil
}

func (h *host) kvKey(call, key string) error {
	if err := h.need(call, hostapi.CapKV); err != nil {
		return err
	}
	if key == "" || len(key) > hostapi.MaxKVKey {
		return fmt.Errorf("%s: key must be 1 to %d bytes: %w", call, hostapi.MaxKVKey, hostapi.ErrInvalid)
	}
	if h.kv == nil {
		return fmt.Errorf("%s: this gateway has no key-value store: %w", call, hostapi.ErrUnimplemented)
	}
	return nil
}

func (h *host) KVGet(ctx context.Context, key string) ([]byte, bool, error) {
	if err := h.kvKey("kv.get", key); err != nil {
		return nil, false, err
	}
	return h.kv.Get(ctx, h.name, key)
}

func (h *host) KVPut(ctx context.Context, key string, value []byte) error {
	if err := h.kvKey("kv.put", key); err != nil {
		return err
	}
	if len(value) > hostapi.MaxKVValue {
		return fmt.Errorf("kv.put: value of %d bytes, at most %d: %w", len(value), hostapi.MaxKVValue, hostapi.ErrTooLarge)
	}
	return h.kv.Put(ctx, h.name, key, value)
}

func (h *host) KVDelete(ctx context.Context, key string) error {
	if err := h.kvKey("kv.delete", key); err != nil {
		return err
	}
	return h.kv.Delete(ctx, h.name, key)
}
