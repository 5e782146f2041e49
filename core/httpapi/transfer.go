package httpapi

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/textproto"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/filegate/filegate/core/internal/iobuf"
	"github.com/filegate/filegate/core/internal/sendfile"
	"github.com/filegate/filegate/core/vfs"
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/valyala/fasthttp"
)

// uploadMeta is the optional "meta" form field of an upload, as in the reference:
// {"files":[{"field":"f1","path":"customers/2026/"}], "overwrite": false}.
type uploadMeta struct {
	Files []struct {
		Field string `json:"field"`
		Path  string `json:"path"`
	} `json:"files"`
	Overwrite bool `json:"overwrite"`
}

// uploaded is one stored file of an upload.
type uploaded struct {
	Field  string `json:"field"`
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

type uploadResult struct {
	Data []uploaded `json:"data"`
}

// pendingUpload is a file streamed into its temporary upload, committed only once the
// whole request has been read without error.
type pendingUpload struct {
	field, path string
	w           *vfs.Writer
}

// upload streams each file part straight into storage. Nothing is committed until the
// whole request has been read, so a conflict, a bad part or a dropped connection leaves
// storage as it was. A file part that arrives before the meta field (HTTPie sends files
// last... first) cannot know its target yet: it is spooled to a temporary file and
// stored once meta is known.
func (a *API) upload(c *call) (err error) {
	mr, err := uploadReader(c.ctx)
	if err != nil {
		return err
	}
	defer mr.release()
	fsys, err := c.fs()
	if err != nil {
		return err
	}
	u := &uploadBatch{api: a, c: c, fs: fsys, defaultDir: queryPath(c.ctx), targets: map[string]bool{}}
	defer func() {
		if err != nil {
			u.abort()
		}
		u.dropSpool()
	}()
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return errorf(fasthttp.StatusBadRequest, "reading multipart body: %v", err)
		}
		field, filename, isFile, err := partNames(part.Header)
		if err != nil {
			return err
		}
		switch {
		case !isFile && field == "meta":
			if u.meta != nil {
				return errorf(fasthttp.StatusBadRequest, "the meta field appears twice")
			}
			if u.meta, err = readMeta(part, a.opt.MaxJSONBody); err != nil {
				return err
			}
		case !isFile: // other plain fields are ignored
		case u.meta == nil:
			err = u.spool(field, filename, part)
		default:
			err = u.store(field, filename, part)
		}
		if err != nil {
			return err
		}
	}
	for _, s := range u.spooled {
		if _, err := s.f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if err := u.store(s.field, s.filename, s.f); err != nil {
			return err
		}
	}
	if len(u.pending) == 0 {
		return errorf(fasthttp.StatusBadRequest, "no file parts in the upload (send each file as a form field with a filename)")
	}
	out := uploadResult{Data: make([]uploaded, 0, len(u.pending))}
	for len(u.pending) > 0 {
		p := u.pending[0]
		u.pending = u.pending[1:] // committed or failed, it is no longer ours to abort
		ev, err := p.w.Commit(c.cx)
		if err != nil {
			return fmt.Errorf("upload: commit %q: %w", p.path, err)
		}
		out.Data = append(out.Data, uploaded{Field: p.field, Path: p.path, Size: ev.Size, SHA256: ev.SHA256})
	}
	writeJSON(c.ctx, fasthttp.StatusCreated, out)
	return nil
}

// uploadBatch is the state of one multipart upload request.
type uploadBatch struct {
	api        *API
	c          *call
	fs         *vfs.FS
	defaultDir string
	meta       *uploadMeta
	targets    map[string]bool
	pending    []pendingUpload
	spooled    []spooledPart
}

// spooledPart is a file part that came before meta, kept in a temporary file.
type spooledPart struct {
	field, filename string
	f               *os.File
}

// store streams a file part into an uncommitted upload at its target.
func (u *uploadBatch) store(field, filename string, r io.Reader) error {
	target, err := uploadTarget(u.meta, field, filename, u.defaultDir)
	if err != nil {
		return err
	}
	if u.targets[target] {
		return errorf(fasthttp.StatusBadRequest, "two files of this upload go to %q", target)
	}
	u.targets[target] = true
	w, err := u.fs.Create(u.c.cx, target, vfs.CreateOptions{Overwrite: u.meta != nil && u.meta.Overwrite, MakeParents: true})
	if err != nil {
		if errors.Is(err, hostapi.ErrExist) {
			return errorf(fasthttp.StatusConflict, "%q exists: set \"overwrite\": true in meta to replace it (nothing was written)", target)
		}
		return err
	}
	u.pending = append(u.pending, pendingUpload{field: field, path: target, w: w})
	return u.api.copyPart(w, r)
}

// spool keeps a file part in a temporary file until meta says where it goes.
func (u *uploadBatch) spool(field, filename string, r io.Reader) error {
	if err := os.MkdirAll(u.api.opt.SpoolDir, 0o700); err != nil {
		return fmt.Errorf("upload: spool: %w", err)
	}
	f, err := os.CreateTemp(u.api.opt.SpoolDir, "upload-*")
	if err != nil {
		return fmt.Errorf("upload: spool: %w", err)
	}
	u.spooled = append(u.spooled, spooledPart{field: field, filename: filename, f: f})
	return u.api.copyPart(f, r)
}

func (u *uploadBatch) abort() {
	for _, p := range u.pending {
		p.w.Abort()
	}
	u.pending = nil
}

func (u *uploadBatch) dropSpool() {
	for _, s := range u.spooled {
		s.f.Close()
		os.Remove(s.f.Name())
	}
}

// copyPart streams one file part into its upload, enforcing the size limit. Into a
// vfs.Writer, the part is received straight into the hash's buffers (its ReadFrom and
// formPart's direct reads: no copy between the connection and the storage); into
// anything else (a spool file), a part of the request body is written straight from
// the body reader's buffer; a spooled one is copied in iobuf chunks.
func (a *API) copyPart(w io.Writer, part io.Reader) error {
	max := a.opt.MaxUpload
	var n int64
	var err error
	if vw, ok := w.(*vfs.Writer); ok {
		src := part
		if max > 0 {
			src = io.LimitReader(part, max+1)
		}
		n, err = vw.ReadFrom(src)
	} else if p, ok := part.(*formPart); ok {
		dst := w
		if max > 0 {
			dst = &limitWriter{w: w, left: max}
		}
		n, err = p.WriteTo(dst)
		if errors.Is(err, errOverLimit) {
			n = max + 1
			err = nil
		}
	} else {
		src := part
		if max > 0 {
			src = io.LimitReader(part, max+1)
		}
		n, err = iobuf.Copy(w, src)
	}
	if err != nil {
		return errorf(fasthttp.StatusBadRequest, "upload interrupted after %d bytes: %v", n, err)
	}
	if max > 0 && n > max {
		return errorf(fasthttp.StatusRequestEntityTooLarge, "file is over the upload limit of %d bytes (nothing was written)", max)
	}
	return nil
}

// errOverLimit is returned by a limitWriter asked to write past its limit.
var errOverLimit = errors.New("over the upload limit")

// limitWriter writes at most left bytes to w: the limit of a part copied with WriteTo,
// which io.LimitReader would hide.
type limitWriter struct {
	w    io.Writer
	left int64
}

// Write writes p, or nothing and errOverLimit if p goes past the limit.
func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.left {
		return 0, errOverLimit
	}
	n, err := l.w.Write(p)
	l.left -= int64(n)
	return n, err
}

// uploadReader returns a reader of the parts of a multipart/form-data request body,
// streamed or in memory.
func uploadReader(ctx *fasthttp.RequestCtx) (*partReader, error) {
	mt, params, err := mime.ParseMediaType(string(ctx.Request.Header.ContentType()))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, errorf(fasthttp.StatusBadRequest, "want Content-Type multipart/form-data with a boundary")
	}
	var mr *partReader
	if body := ctx.RequestBodyStream(); body != nil {
		mr, err = newPartReader(body, params["boundary"])
	} else {
		mr, err = newPartReaderBytes(ctx.PostBody(), params["boundary"])
	}
	if err != nil {
		return nil, errorf(fasthttp.StatusBadRequest, "Content-Type: %v", err)
	}
	return mr, nil
}

// partNames reads a part's form name and raw filename. The filename is checked, not
// cleaned: a name with a path in it is refused rather than silently shortened.
func partNames(h textproto.MIMEHeader) (field, filename string, isFile bool, err error) {
	_, params, err := mime.ParseMediaType(h.Get("Content-Disposition"))
	if err != nil {
		return "", "", false, errorf(fasthttp.StatusBadRequest, "multipart part without a valid Content-Disposition: %v", err)
	}
	field = params["name"]
	filename, isFile = params["filename"]
	if !isFile {
		return field, "", false, nil
	}
	if filename == "" || filename == "." || filename == ".." || strings.ContainsAny(filename, "/\\\x00") {
		return "", "", false, errorf(fasthttp.StatusBadRequest, "file name %q of field %q: want a plain name without folders", filename, field)
	}
	if _, err := vfs.CleanPath(filename); err != nil {
		return "", "", false, errorf(fasthttp.StatusBadRequest, "file name %q of field %q: %v", filename, field, err)
	}
	return field, filename, true, nil
}

func readMeta(r io.Reader, max int64) (*uploadMeta, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, errorf(fasthttp.StatusBadRequest, "reading meta: %v", err)
	}
	if int64(len(b)) > max {
		return nil, errorf(fasthttp.StatusRequestEntityTooLarge, "meta is over %d bytes", max)
	}
	var m uploadMeta
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, errorf(fasthttp.StatusBadRequest, "meta: invalid JSON: %s", describeJSONError(err))
	}
	return &m, nil
}

// uploadTarget is where the file of field goes: the path meta maps the field to (a path
// ending in "/" is a folder keeping the file name), or defaultDir/filename.
func uploadTarget(meta *uploadMeta, field, filename, defaultDir string) (string, error) {
	dir, err := vfs.CleanPath(defaultDir)
	if err != nil {
		return "", errorf(fasthttp.StatusBadRequest, "upload folder: %v", err)
	}
	target := path.Join(dir, filename)
	if meta != nil {
		for _, f := range meta.Files {
			if f.Field != field {
				continue
			}
			switch {
			case f.Path == "":
			case strings.HasSuffix(f.Path, "/"):
				target = f.Path + filename
			default:
				target = f.Path
			}
		}
	}
	clean, err := vfs.CleanPath(target)
	if err != nil {
		return "", errorf(fasthttp.StatusBadRequest, "upload path for field %q: %v", field, err)
	}
	if clean == "/" {
		return "", errorf(fasthttp.StatusBadRequest, "upload path for field %q names the root folder", field)
	}
	return clean, nil
}

// etag identifies a version of a file by size and modification time.
func etag(fi hostapi.FileInfo) string {
	return `"` + strconv.FormatInt(fi.Size, 16) + "-" + strconv.FormatInt(fi.ModTime.UnixNano(), 16) + `"`
}

func (a *API) downloadSingle(c *call) error {
	p := string(c.ctx.QueryArgs().Peek("path"))
	if err := requirePath("path", p); err != nil {
		return err
	}
	fsys, err := c.fs()
	if err != nil {
		return err
	}
	fi, err := fsys.Stat(c.cx, p)
	if err != nil {
		return err
	}
	if fi.IsDir {
		return errorf(fasthttp.StatusBadRequest, "%q is a folder: download folders with POST /api/download/multi", p)
	}
	tag := etag(fi)
	h := &c.ctx.Response.Header
	h.Set("ETag", tag)
	h.Set("Accept-Ranges", "bytes")
	h.Set("Last-Modified", fi.ModTime.UTC().Format(time.RFC1123))
	if inm := string(c.ctx.Request.Header.Peek("If-None-Match")); inm != "" && etagMatch(inm, tag) {
		c.ctx.SetStatusCode(fasthttp.StatusNotModified)
		return nil
	}
	start, length := int64(0), fi.Size
	status := fasthttp.StatusOK
	if rng := string(c.ctx.Request.Header.Peek("Range")); rng != "" && ifRangeOK(string(c.ctx.Request.Header.Peek("If-Range")), tag) {
		s, n, ok := parseRange(rng, fi.Size)
		if !ok {
			h.Set("Content-Range", "bytes */"+strconv.FormatInt(fi.Size, 10))
			return errorf(fasthttp.StatusRequestedRangeNotSatisfiable, "range %q is not satisfiable for %d bytes", rng, fi.Size)
		}
		start, length, status = s, n, fasthttp.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", s, s+n-1, fi.Size))
	}
	rc, err := fsys.Open(c.cx, p, start)
	if err != nil {
		return err
	}
	ct := mime.TypeByExtension(path.Ext(p))
	if ct == "" {
		ct = "application/octet-stream"
	}
	c.ctx.SetContentType(ct)
	h.Set("Content-Disposition", contentDisposition(path.Base(p)))
	c.ctx.SetStatusCode(status)
	tcp, _ := c.ctx.Conn().(*net.TCPConn)
	c.ctx.SetBodyStream(&rangeReader{rc: rc, left: length, toEOF: start+length == fi.Size, tcp: tcp}, int(length))
	return nil
}

// rangeReader reads one range of a file and closes it.
type rangeReader struct {
	rc    *vfs.Reader
	left  int64
	toEOF bool         // the range ends at the end of the file
	tcp   *net.TCPConn // the connection when it is plain TCP (no TLS): sendfile can reach it
}

func (r *rangeReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.rc.Read(p)
	r.left -= int64(n)
	return n, err
}

// WriteTo sends the range. One that runs to the end of the file over a plain TCP
// connection goes through vfs.Reader.WriteTo, which hands a local file to fasthttp's
// body writer (sendfile; the writer stops at Content-Length even if the file grew),
// with the connection corked so that every segment is full. Any other is copied in
// large chunks: fasthttp's own copy uses 4 KiB, which costs a write system call per
// 4 KiB, and over TLS its ReadFrom would too.
func (r *rangeReader) WriteTo(w io.Writer) (int64, error) {
	if r.tcp != nil && r.toEOF {
		defer sendfile.Cork(r.tcp)()
		n, err := r.rc.WriteTo(w)
		r.left -= n
		return n, err
	}
	return iobuf.Copy(w, struct{ io.Reader }{r})
}

// Close closes the file. When the range reached the end of the file, one more read
// lets the file see its own end first, so a complete download is recorded with its
// SHA-256.
func (r *rangeReader) Close() error {
	if r.left == 0 && r.toEOF {
		var probe [1]byte
		r.rc.Read(probe[:])
	}
	return r.rc.Close()
}

func etagMatch(header, tag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == tag || t == "*" {
			return true
		}
	}
	return false
}

// ifRangeOK: a Range applies unless If-Range names another version.
func ifRangeOK(ifRange, tag string) bool { return ifRange == "" || ifRange == tag }

// parseRange parses a single "bytes=" range against size and returns its start and
// length.
func parseRange(h string, size int64) (start, length int64, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	a, b, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false
	}
	if a == "" { // suffix: the last b bytes
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, false
		}
		n = min(n, size)
		return size - n, n, size > 0
	}
	s, err := strconv.ParseInt(a, 10, 64)
	if err != nil || s < 0 || s >= size {
		return 0, 0, false
	}
	e := size - 1
	if b != "" {
		if e, err = strconv.ParseInt(b, 10, 64); err != nil || e < s {
			return 0, 0, false
		}
		e = min(e, size-1)
	}
	return s, e - s + 1, true
}

// contentDisposition names the file for browsers, with an RFC 5987 UTF-8 form.
func contentDisposition(name string) string {
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, name)
	return fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, ascii, url.PathEscape(name))
}

type multiRequest struct {
	Paths []string `json:"paths"`
}

type multiResponse struct {
	ID        string    `json:"id"`
	ExpiresAt time.Time `json:"expires_at"`
	URL       string    `json:"url"`
}

// multiTTL is how long a prepared zip download stays valid.
const multiTTL = 10 * time.Minute

func (a *API) prepareMulti(c *call) error {
	var req multiRequest
	if err := decodeJSON(c.ctx, a.opt.MaxJSONBody, &req); err != nil {
		return err
	}
	if len(req.Paths) == 0 || len(req.Paths) > 10000 {
		return errorf(fasthttp.StatusBadRequest, "paths: want 1 to 10000 paths")
	}
	fsys, err := c.fs()
	if err != nil {
		return err
	}
	clean := make([]string, len(req.Paths))
	for i, p := range req.Paths {
		if clean[i], err = vfs.CleanPath(p); err != nil {
			return err
		}
		if _, err := fsys.Stat(c.cx, p); err != nil {
			return err
		}
	}
	d, err := a.opt.Store.CreateMultiDownload(c.cx, c.who.Tenant.ID, c.who.Account.AccessKey, clean, multiTTL)
	if err != nil {
		return err
	}
	writeJSON(c.ctx, fasthttp.StatusOK, multiResponse{ID: d.ID, ExpiresAt: d.ExpiresAt, URL: "/api/download/multi/" + d.ID})
	return nil
}

// downloadMulti streams a zip of a prepared download, built entry by entry as the
// client reads: nothing is staged in memory or on disk. It acts with the rights of the
// REST API account that prepared it, which must still be valid.
func (a *API) downloadMulti(c *call) error {
	d, err := a.opt.Store.MultiDownload(c.cx, c.params["id"])
	if err != nil {
		return errorf(fasthttp.StatusNotFound, "no such download, or it expired: prepare it again with POST /api/download/multi")
	}
	acct, err := a.opt.Store.APIAccountByKey(c.cx, d.AccessKey)
	if err != nil || acct.TenantID != d.TenantID || acct.Expired(time.Now()) {
		return errorf(fasthttp.StatusNotFound, "the REST API account that prepared this download no longer exists")
	}
	tenant, err := a.opt.Store.Tenant(c.cx, d.TenantID)
	if err != nil {
		return err
	}
	c.who.Account, c.who.Tenant = acct, tenant
	fsys, err := c.fs()
	if err != nil {
		return err
	}
	c.ctx.SetContentType("application/zip")
	c.ctx.Response.Header.Set("Content-Disposition", contentDisposition("download-"+d.ID[:8]+".zip"))
	ctx := c.cx
	log := a.log
	c.ctx.SetBodyStreamWriter(func(bw *bufio.Writer) {
		zw := zip.NewWriter(bw)
		zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, flate.BestSpeed) })
		z := &zipper{fs: fsys, zw: zw, seen: map[string]bool{}}
		for _, p := range d.Paths {
			if err := z.add(ctx, p, path.Base(p)); err != nil {
				// The status is sent; ending the stream without the central directory
				// makes the client see a broken archive rather than a short one.
				log.Warn("zip download aborted", "id", d.ID, "path", p, "err", err)
				return
			}
		}
		if err := zw.Close(); err != nil {
			log.Warn("zip download", "id", d.ID, "err", err)
		}
	})
	return nil
}

// zipper writes files and folders of a filesystem view into a zip stream.
type zipper struct {
	fs   *vfs.FS
	zw   *zip.Writer
	seen map[string]bool
}

func (z *zipper) add(ctx context.Context, p, name string) error {
	fi, err := z.fs.Stat(ctx, p)
	if err != nil {
		return err
	}
	if fi.IsDir {
		return z.addDir(ctx, p, name, fi.ModTime)
	}
	if z.seen[name] {
		return nil
	}
	z.seen[name] = true
	w, err := z.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: fi.ModTime})
	if err != nil {
		return err
	}
	rc, err := z.fs.Open(ctx, p, 0)
	if err != nil {
		return err
	}
	_, err = iobuf.Copy(w, rc)
	return errors.Join(err, rc.Close())
}

func (z *zipper) addDir(ctx context.Context, dir, name string, mtime time.Time) error {
	if _, err := z.zw.CreateHeader(&zip.FileHeader{Name: name + "/", Method: zip.Store, Modified: mtime}); err != nil {
		return err
	}
	cursor := ""
	for {
		pg, err := z.fs.List(ctx, dir, hostapi.ListOptions{Cursor: cursor, Limit: 1000})
		if err != nil {
			return err
		}
		for _, e := range pg.Entries {
			if err := z.add(ctx, path.Join(dir, e.Name), name+"/"+e.Name); err != nil {
				return err
			}
		}
		if pg.NextCursor == "" {
			return nil
		}
		cursor = pg.NextCursor
	}
}
