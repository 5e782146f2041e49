package xfer

import (
	"context"
	"io"
	"io/fs"
	"log/slog"

	"github.com/filegate/filegate/core/vfs"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// Dir reads a folder one page at a time, so that listing a huge folder never holds
// more than a page.
type Dir struct {
	ctx    context.Context
	log    *slog.Logger
	fs     *vfs.FS
	path   string
	cursor string
	done   bool
}

// OpenDir starts listing the folder at the client path p. Nothing is read until Next.
func OpenDir(ctx context.Context, log *slog.Logger, fsys *vfs.FS, p string) *Dir {
	return &Dir{ctx: ctx, log: log, fs: fsys, path: p}
}

// Next returns the next page of entries, or io.EOF after the last one. Errors are
// client-facing (see Fail).
func (d *Dir) Next() ([]fs.FileInfo, error) {
	if d.done {
		return nil, io.EOF
	}
	page, err := d.fs.List(d.ctx, d.path, hostapi.ListOptions{Cursor: d.cursor})
	if err != nil {
		return nil, Fail(d.ctx, d.log, "list", d.path, err)
	}
	d.cursor, d.done = page.NextCursor, page.NextCursor == ""
	out := make([]fs.FileInfo, len(page.Entries))
	for i, e := range page.Entries {
		out[i] = FileInfo{e}
	}
	return out, nil
}

// ReadAll returns every entry of the folder at the client path p (FTP listings need
// them all at once).
func ReadAll(ctx context.Context, log *slog.Logger, fsys *vfs.FS, p string) ([]fs.FileInfo, error) {
	d := OpenDir(ctx, log, fsys, p)
	var all []fs.FileInfo
	for {
		page, err := d.Next()
		if err == io.EOF {
			return all, nil
		}
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
	}
}
