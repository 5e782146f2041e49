package httpapi

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/filegate/filegate/core/accounts"
	"github.com/filegate/filegate/core/auth"
	"github.com/filegate/filegate/core/vfs"
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/valyala/fasthttp"
)

// Files gives the Storage API a filesystem view for a caller.
type Files interface {
	// FS returns who's view of its tenant's storage, confined to its PathPrefix, with
	// rights from its scopes; remoteAddr is recorded in events.
	FS(ctx context.Context, who accounts.Principal, remoteAddr string) (*vfs.FS, error)
}

func (a *API) fileRoutes() {
	r := &a.router
	listParams := []param{{name: "path", desc: "folder, default /"}, {name: "limit", desc: "1-10000, default 1000"}, {name: "cursor", desc: "next_cursor of the previous page"}, {name: "search", desc: "name prefix"}}
	r.add(&route{method: "GET", pattern: "/api/list/files", tag: "storage", auth: true, scope: auth.ScopeFileList, summary: "List the files of a folder (physical storage, cursor-paginated)",
		params: listParams, resp: cursorList{}, h: a.listFiles(hostapi.ListOptions{FilesOnly: true})})
	r.add(&route{method: "GET", pattern: "/api/list/dirs", tag: "storage", auth: true, scope: auth.ScopeFileList, summary: "List the folders of a folder (physical storage, cursor-paginated)",
		params: listParams, resp: cursorList{}, h: a.listFiles(hostapi.ListOptions{DirsOnly: true})})
	r.add(&route{method: "GET", pattern: "/api/list/tree", tag: "storage", auth: true, scope: auth.ScopeFileList, summary: "Every descendant of a folder, from the metadata engine (may lag the storage)",
		params: []param{{name: "path", desc: "folder, default /"}}, resp: treeList{}, h: a.listTree})
	r.add(&route{method: "POST", pattern: "/api/upload", tag: "storage", auth: true, scope: auth.ScopeFileCreate, summary: "Upload files (multipart/form-data; optional meta field maps fields to paths)",
		params: []param{{name: "path", desc: "default folder for files meta does not map, default /"}}, form: true, resp: uploadResult{}, h: a.upload})
	r.add(&route{method: "GET", pattern: "/api/download/single", tag: "storage", auth: true, scope: auth.ScopeFileRead, summary: "Download one file (streamed; Range and If-None-Match supported)",
		params: []param{{name: "path", required: true}}, raw: "application/octet-stream", h: a.downloadSingle})
	r.add(&route{method: "POST", pattern: "/api/download/multi", tag: "storage", auth: true, scope: auth.ScopeFileRead, summary: "Prepare a zip of several files or folders; returns an id valid for a short time",
		body: multiRequest{}, resp: multiResponse{}, h: a.prepareMulti})
	r.add(&route{method: "GET", pattern: "/api/download/multi/{id}", tag: "storage", summary: "Download a prepared zip, built while streaming (the id is the credential)",
		raw: "application/zip", h: a.downloadMulti})
	r.add(&route{method: "POST", pattern: "/api/mkdir", tag: "storage", auth: true, scope: auth.ScopeFileCreate, summary: "Create a folder and any missing parents",
		body: pathRequest{}, resp: okResult{}, h: a.mkdir})
	r.add(&route{method: "POST", pattern: "/api/move", tag: "storage", auth: true, scope: auth.ScopeFileRename, summary: "Move or rename a file or folder (a target ending in / keeps the name)",
		body: moveRequest{}, resp: okResult{}, h: a.move})
	r.add(&route{method: "POST", pattern: "/api/delete", tag: "storage", auth: true, scope: auth.ScopeFileDelete, summary: "Delete a file, or a folder (recursive is required when it is not empty)",
		body: deleteRequest{}, resp: okResult{}, h: a.delete})
}

// fs returns the caller's filesystem view.
func (c *call) fs() (*vfs.FS, error) {
	return c.api.opt.Files.FS(c.cx, c.who, c.ctx.RemoteAddr().String())
}

// entry is one item of a physical listing.
type entry struct {
	Name     string    `json:"name"`
	Path     string    `json:"path"`
	Type     string    `json:"type"` // file or dir
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
}

// cursorList is a cursor-paginated listing.
type cursorList struct {
	Data       []entry `json:"data"`
	Limit      int     `json:"limit"`
	NextCursor string  `json:"next_cursor"`
}

func (a *API) listFiles(kind hostapi.ListOptions) func(*call) error {
	return func(c *call) error {
		fsys, err := c.fs()
		if err != nil {
			return err
		}
		limit, err := queryInt(c.ctx, "limit", 1000, 1, 10000)
		if err != nil {
			return err
		}
		q := c.ctx.QueryArgs()
		dir := queryPath(c.ctx)
		opts := kind
		opts.Limit, opts.Cursor, opts.Prefix = limit, string(q.Peek("cursor")), string(q.Peek("search"))
		pg, err := fsys.List(c.cx, dir, opts)
		if err != nil {
			return err
		}
		base, _ := vfs.CleanPath(dir)
		c.ctx.SetContentType("application/json")
		buf := listBufs.Get().(*[]byte)
		*buf = appendCursorList((*buf)[:0], base, limit, pg)
		c.ctx.SetBody(*buf) // copied into fasthttp's own pooled buffer
		if cap(*buf) <= maxPooledList {
			listBufs.Put(buf)
		}
		return nil
	}
}

// listBufs holds the buffers listings are encoded into; a buffer grown past
// maxPooledList (only a 10,000-entry page of very long names) is left to the collector.
var listBufs = sync.Pool{New: func() any { b := make([]byte, 0, 128<<10); return &b }}

const maxPooledList = 4 << 20

// appendCursorList encodes a listing page as cursorList does with encoding/json, by
// hand: listings are the hottest read path and this avoids reflection and any
// allocation per entry.
func appendCursorList(b []byte, base string, limit int, pg hostapi.ListPage) []byte {
	cleanBase := path.Clean(base) == base
	b = append(b, `{"data":[`...)
	for i, fi := range pg.Entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendJSONString(b, fi.Name)
		b = append(b, `,"path":`...)
		b = appendJoinedPath(b, base, fi.Name, cleanBase)
		if fi.IsDir {
			b = append(b, `,"type":"dir","size":`...)
		} else {
			b = append(b, `,"type":"file","size":`...)
		}
		b = strconv.AppendInt(b, fi.Size, 10)
		b = append(b, `,"modified":"`...)
		b = fi.ModTime.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, `"}`...)
	}
	b = append(b, `],"limit":`...)
	b = strconv.AppendInt(b, int64(limit), 10)
	b = append(b, `,"next_cursor":`...)
	b = appendJSONString(b, pg.NextCursor)
	return append(b, "}\n"...)
}

// appendJoinedPath appends path.Join(base, name) as a JSON string literal. For a
// clean base and a plain name (what storage lists) it escapes the two parts in place
// rather than building the joined string.
func appendJoinedPath(b []byte, base, name string, cleanBase bool) []byte {
	if !cleanBase || name == "" || name == "." || name == ".." || strings.IndexByte(name, '/') >= 0 {
		return appendJSONString(b, path.Join(base, name))
	}
	b = appendJSONString(b, base)
	b = b[:len(b)-1] // the closing quote
	if base != "/" {
		b = append(b, '/')
	}
	at := len(b)
	b = appendJSONString(b, name)
	n := copy(b[at:], b[at+1:]) // drop name's opening quote, keep its closing one
	return b[:at+n]
}

// queryPath is the path query parameter, "/" when absent.
func queryPath(ctx *fasthttp.RequestCtx) string {
	p := string(ctx.QueryArgs().Peek("path"))
	if p == "" {
		return "/"
	}
	return p
}

// pathRequest names one path.
type pathRequest struct {
	Path string `json:"path"`
}

type moveRequest struct {
	From string `json:"from"`
	To   string `json:"to"`
}

type deleteRequest struct {
	Path      string `json:"path"`
	Recursive bool   `json:"recursive"`
}

type okResult struct {
	OK   bool   `json:"ok"`
	Path string `json:"path"`
}

func requirePath(name, p string) error {
	if p == "" {
		return errorf(fasthttp.StatusBadRequest, "%s is required", name)
	}
	return nil
}

// fileOp runs one JSON-bodied storage operation: it decodes the body into a T, runs op
// on the caller's filesystem and answers {"ok": true, "path": the path op returns}.
func fileOp[T any](c *call, op func(*vfs.FS, *T) (string, error)) error {
	var req T
	if err := decodeJSON(c.ctx, c.api.opt.MaxJSONBody, &req); err != nil {
		return err
	}
	fsys, err := c.fs()
	if err != nil {
		return err
	}
	p, err := op(fsys, &req)
	if err != nil {
		return err
	}
	writeJSON(c.ctx, fasthttp.StatusOK, okResult{OK: true, Path: p})
	return nil
}

func (a *API) mkdir(c *call) error {
	return fileOp(c, func(fsys *vfs.FS, r *pathRequest) (string, error) {
		if err := requirePath("path", r.Path); err != nil {
			return "", err
		}
		if err := fsys.Mkdir(c.cx, r.Path, true); err != nil {
			return "", err
		}
		return vfs.CleanPath(r.Path)
	})
}

func (a *API) move(c *call) error {
	return fileOp(c, func(fsys *vfs.FS, r *moveRequest) (string, error) {
		if err := errors.Join(requirePath("from", r.From), requirePath("to", r.To)); err != nil {
			return "", err
		}
		from, err := vfs.CleanPath(r.From)
		if err != nil {
			return "", err
		}
		to := r.To
		if strings.HasSuffix(to, "/") { // into a folder, keeping the name
			to += path.Base(from)
		}
		if to, err = vfs.CleanPath(to); err != nil {
			return "", err
		}
		return to, fsys.Rename(c.cx, from, to)
	})
}

func (a *API) delete(c *call) error {
	return fileOp(c, func(fsys *vfs.FS, r *deleteRequest) (string, error) {
		if err := requirePath("path", r.Path); err != nil {
			return "", err
		}
		err := fsys.Remove(c.cx, r.Path, r.Recursive)
		if errors.Is(err, hostapi.ErrNotEmpty) {
			return "", errorf(fasthttp.StatusConflict, "folder %q is not empty: send \"recursive\": true to delete it with its contents", r.Path)
		}
		if err != nil {
			return "", err
		}
		return vfs.CleanPath(r.Path)
	})
}

// tenantToClient turns a tenant path into the caller's path (relative to PathPrefix).
func tenantToClient(prefix, p string) (string, bool) {
	if prefix == "" || prefix == "/" {
		return p, true
	}
	if p == prefix {
		return "/", true
	}
	rest, ok := strings.CutPrefix(p, prefix+"/")
	return "/" + rest, ok
}

var errStop = fmt.Errorf("stop")
