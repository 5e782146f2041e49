// Package hostutil holds the folder walks and checksums the first-party rule plugins
// build from host calls. It depends on hostapi only, like the plugins.
package hostutil

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// ErrSkipDir, returned by a WalkFunc for a folder, skips the folder's contents.
var ErrSkipDir = errors.New("skip this folder")

// WalkFunc is called for each entry under the walked folder with its clean path.
type WalkFunc func(p string, fi hostapi.FileInfo) error

// Walk calls fn for every file and folder below dir in backend, a folder before its
// contents, names in order, reading each folder page by page so memory does not grow
// with a folder's size. An error from fn (other than ErrSkipDir) stops the walk.
func Walk(ctx context.Context, h hostapi.Host, backend, dir string, fn WalkFunc) error {
	opts := hostapi.ListOptions{Limit: 1000}
	for {
		page, err := h.List(ctx, backend, dir, opts)
		if err != nil {
			return err
		}
		for _, fi := range page.Entries {
			p := path.Join(dir, fi.Name)
			err := fn(p, fi)
			switch {
			case errors.Is(err, ErrSkipDir):
				continue
			case err != nil:
				return err
			}
			if fi.IsDir {
				if err := Walk(ctx, h, backend, p, fn); err != nil {
					return err
				}
			}
		}
		if page.NextCursor == "" {
			return nil
		}
		opts.Cursor = page.NextCursor
	}
}

// RemoveAll deletes p in backend, and everything under it if it is a folder. Nothing
// there is no error.
func RemoveAll(ctx context.Context, h hostapi.Host, backend, p string) error {
	fi, err := h.Stat(ctx, backend, p)
	if errors.Is(err, hostapi.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir {
		// Delete children first; collect a page at a time since deleting shifts cursors.
		for {
			page, err := h.List(ctx, backend, p, hostapi.ListOptions{Limit: 1000})
			if err != nil {
				return err
			}
			if len(page.Entries) == 0 {
				break
			}
			for _, c := range page.Entries {
				if err := RemoveAll(ctx, h, backend, path.Join(p, c.Name)); err != nil {
					return err
				}
			}
		}
	}
	if err := h.Delete(ctx, backend, p); err != nil && !errors.Is(err, hostapi.ErrNotExist) {
		return err
	}
	return nil
}

// SHA256 reads a file through the host and returns its hex SHA-256.
func SHA256(ctx context.Context, h hostapi.Host, backend, p string) (string, error) {
	sum := sha256.New()
	for off := int64(0); ; {
		b, err := h.ReadFile(ctx, backend, p, off, hostapi.MaxChunk)
		if err != nil {
			return "", err
		}
		if len(b) == 0 {
			return hex.EncodeToString(sum.Sum(nil)), nil
		}
		sum.Write(b)
		off += int64(len(b))
	}
}

// Logf writes a log line through the host. Logging needs the "log" grant; without it
// the line is dropped rather than failing the rule.
func Logf(ctx context.Context, h hostapi.Host, level hostapi.LogLevel, msg string) {
	_ = h.Log(ctx, level, msg)
}
