// Package objstore turns an object store (S3, Azure Blob) into a hostapi.Storage: the
// file-system semantics the host API promises, on top of a Bucket that only knows
// flat keys.
//
// Layout: the file /a/b is the object PREFIX+"a/b"; a folder /a is the empty marker
// object PREFIX+"a/" (written by Mkdir), or implicitly any object whose key starts
// with PREFIX+"a/" (objects written by other tools). An implicit folder disappears
// with its last object, as on the object store itself.
//
// Uploads stream into the backend's multipart upload (see Upload), so nothing is
// visible before Commit and memory per upload is bounded; the part buffers live
// outside the Go heap (see partBuffers). Renaming a folder copies
// each object server-side, then deletes it, reporting its progress through
// hostapi.ReportProgress; see Store.Rename for how an interrupted rename is resumed.
package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/internal/storeutil"
)

// Item is one entry of a Bucket listing: an object, or a common prefix (a folder)
// when listing with a delimiter.
type Item struct {
	Key      string // full key; a common prefix ends with the delimiter
	Size     int64
	ModTime  time.Time
	IsPrefix bool // a common prefix, not an object
}

// Query selects a listing.
type Query struct {
	Prefix     string // only keys starting with Prefix
	Delimiter  string // "" lists recursively; "/" rolls deeper keys into common prefixes
	StartAfter string // only keys sorting after StartAfter (byte order)
	PageSize   int    // a hint: how many items the caller will probably read; 0 for many
}

// Bucket is what a Store needs of an object store. Keys are full keys. Errors for
// missing objects wrap hostapi.ErrNotExist; a read past the end wraps ErrRange.
type Bucket interface {
	// Head describes the object key.
	Head(ctx context.Context, key string) (Item, error)
	// List yields the objects and common prefixes q selects, in key (byte) order, and
	// then stops, or yields one error and stops.
	List(ctx context.Context, q Query) iter.Seq2[Item, error]
	// Get reads the object key from offset to its end.
	Get(ctx context.Context, key string, offset int64) (io.ReadCloser, error)
	// Put writes the whole object key in one request.
	Put(ctx context.Context, key string, data []byte) error
	// StartMultipart starts writing the object key in parts.
	StartMultipart(ctx context.Context, key string) (Multipart, error)
	// Copy copies the object from, of size bytes, to the key to, server-side.
	Copy(ctx context.Context, from, to string, size int64) error
	// Delete deletes the object key; deleting a missing object is not an error.
	Delete(ctx context.Context, key string) error
}

// ErrRange is what a Bucket's Get wraps when offset is past the end of the object.
var ErrRange = errors.New("range not satisfiable")

// Options tune a Store.
type Options struct {
	// Name prefixes error messages: "s3", "azureblob".
	Name string
	// Prefix is prepended to every key: the Store's root in the bucket ("" or ending
	// in "/").
	Prefix string
	// Parts sizes uploads; see PartPlan.
	Parts PartPlan
	// Concurrency is how many parts an upload sends at once, and how many objects a
	// folder rename copies at once.
	Concurrency int
}

// Store is a hostapi.Storage over a Bucket. It is safe for concurrent use.
type Store struct {
	b     Bucket
	opts  Options
	parts partBuffers // of opts.Parts.Size bytes
}

var _ hostapi.Storage = (*Store)(nil)

// New returns a Store over b.
func New(b Bucket, opts Options) *Store {
	opts.Concurrency = max(opts.Concurrency, 1)
	return &Store{b: b, opts: opts, parts: partBuffers{size: opts.Parts.Size, keep: opts.Concurrency + 1}}
}

// key is the object key of the file name; name is clean, absolute and not "/".
func (s *Store) key(name string) string { return s.opts.Prefix + name[1:] }

// dirKey is the key prefix of the folder dir's entries (and its marker's key).
func (s *Store) dirKey(dir string) string {
	if dir == "/" {
		return s.opts.Prefix
	}
	return s.key(dir) + "/"
}

// errorf wraps an error with the backend name and the operation.
func (s *Store) errorf(format string, args ...any) error {
	return fmt.Errorf(s.opts.Name+": "+format, args...)
}

// check validates a path given to op.
func (s *Store) check(op, name string) error {
	if err := storeutil.CheckPath(name); err != nil {
		return s.errorf("%s: %w", op, err)
	}
	return nil
}

// Stat describes name. A folder is a marker object, or any object below it.
func (s *Store) Stat(ctx context.Context, name string) (hostapi.FileInfo, error) {
	if err := s.check("stat", name); err != nil {
		return hostapi.FileInfo{}, err
	}
	fi, err := s.stat(ctx, name)
	if err != nil {
		return hostapi.FileInfo{}, s.errorf("stat %q: %w", name, err)
	}
	return fi, nil
}

// stat is Stat without the checks and the wrapping.
func (s *Store) stat(ctx context.Context, name string) (hostapi.FileInfo, error) {
	if name == "/" {
		return hostapi.FileInfo{IsDir: true}, nil
	}
	base := path.Base(name)
	it, err := s.b.Head(ctx, s.key(name))
	if err == nil {
		return hostapi.FileInfo{Name: base, Size: it.Size, ModTime: it.ModTime}, nil
	}
	if !errors.Is(err, hostapi.ErrNotExist) {
		return hostapi.FileInfo{}, err
	}
	// The marker, when there is one, sorts first under its own key.
	dk := s.dirKey(name)
	for it, err := range s.b.List(ctx, Query{Prefix: dk, Delimiter: "/", PageSize: 1}) {
		if err != nil {
			return hostapi.FileInfo{}, err
		}
		fi := hostapi.FileInfo{Name: base, IsDir: true}
		if it.Key == dk {
			fi.ModTime = it.ModTime
		}
		return fi, nil
	}
	return hostapi.FileInfo{}, hostapi.ErrNotExist
}

// needDir returns nil if dir is a folder, an error wrapping hostapi.ErrNotExist or
// hostapi.ErrNotDir otherwise.
func (s *Store) needDir(ctx context.Context, dir string) error {
	fi, err := s.stat(ctx, dir)
	switch {
	case err != nil:
		return err
	case !fi.IsDir:
		return fmt.Errorf("%q: %w", dir, hostapi.ErrNotDir)
	}
	return nil
}

// List returns one page of the folder dir. It reads the folder in key order from the
// cursor on, and stops as soon as no later key can sort into the page, so a page
// costs about one request whatever the folder's size.
func (s *Store) List(ctx context.Context, dir string, opts hostapi.ListOptions) (hostapi.ListPage, error) {
	if err := s.check("list", dir); err != nil {
		return hostapi.ListPage{}, err
	}
	page, err := s.list(ctx, dir, opts)
	if err != nil {
		return hostapi.ListPage{}, s.errorf("list %q: %w", dir, err)
	}
	return page, nil
}

func (s *Store) list(ctx context.Context, dir string, opts hostapi.ListOptions) (hostapi.ListPage, error) {
	pager, err := storeutil.NewPager[hostapi.FileInfo](opts)
	if err != nil {
		return hostapi.ListPage{}, err
	}
	after, _ := storeutil.DecodeCursor(opts.Cursor) // NewPager checked it
	dk := s.dirKey(dir)
	q := Query{Prefix: dk + opts.Prefix, Delimiter: "/", PageSize: pageHint(opts.Limit)}
	if after != "" {
		// Every name > after has a key > after: a file's key is its name, a
		// folder's is its name and "/".
		q.StartAfter = dk + after
	}
	seen, prev := false, ""
	for it, err := range s.b.List(ctx, q) {
		if err != nil {
			return hostapi.ListPage{}, err
		}
		seen = true
		rel := it.Key[len(dk):]
		name, isDir := strings.CutSuffix(rel, "/")
		// Skip the folder's own marker, a marker some servers list both as an object
		// and a common prefix, names with a "/" inside (never, with a delimiter), and
		// a folder rename's bookkeeping.
		if rel == "" || rel == prev || strings.Contains(name, "/") || rel == renameMarkerSuffix {
			continue
		}
		prev = rel
		if pager.Wants(name) {
			fi := hostapi.FileInfo{Name: name, IsDir: isDir}
			if !isDir {
				fi.Size, fi.ModTime = it.Size, it.ModTime
			}
			pager.Add(name, isDir, fi)
		}
		if last, full := pager.Last(); full && rel >= lateBound(last) {
			break
		}
	}
	if !seen && dir != "/" {
		if err := s.needDir(ctx, dir); err != nil {
			return hostapi.ListPage{}, err
		}
	}
	entries, next := pager.Page()
	page := hostapi.ListPage{Entries: make([]hostapi.FileInfo, len(entries)), NextCursor: next}
	for i, e := range entries {
		page.Entries[i] = e.Value
	}
	return page, nil
}

// lateBound returns the key (relative to the folder) past which no entry can sort
// before name. Keys come in byte order, which is name order except that a folder D
// is listed at D+"/": after the names that extend D with a byte below '/' (such as
// "D.txt" or "D-1"). Those folders are prefixes of name cut before such a byte; the
// shortest gives the largest key.
func lateBound(name string) string {
	for i := 1; i < len(name); i++ {
		if name[i] < '/' {
			return name[:i] + "/"
		}
	}
	return ""
}

// pageHint turns a listing limit into a Query.PageSize: a little more than the page,
// so that one backend request usually suffices.
func pageHint(limit int) int {
	if limit <= 0 {
		limit = storeutil.DefaultLimit
	}
	return min(limit+1, storeutil.MaxLimit) + 8
}

// Open reads the file name from offset with a ranged read.
func (s *Store) Open(ctx context.Context, name string, offset int64) (io.ReadCloser, error) {
	if err := s.check("open", name); err != nil {
		return nil, err
	}
	rc, err := s.open(ctx, name, offset)
	if err != nil {
		return nil, s.errorf("open %q: %w", name, err)
	}
	return rc, nil
}

func (s *Store) open(ctx context.Context, name string, offset int64) (io.ReadCloser, error) {
	switch {
	case offset < 0:
		return nil, fmt.Errorf("negative offset %d: %w", offset, hostapi.ErrInvalid)
	case name == "/":
		return nil, hostapi.ErrIsDir
	}
	rc, err := s.b.Get(ctx, s.key(name), offset)
	switch {
	case err == nil:
		return rc, nil
	case errors.Is(err, ErrRange):
		// Reading from the very end is reading nothing.
		if it, herr := s.b.Head(ctx, s.key(name)); herr == nil && it.Size == offset {
			return io.NopCloser(strings.NewReader("")), nil
		}
		return nil, storeutil.WithKind(err, hostapi.ErrInvalid)
	case errors.Is(err, hostapi.ErrNotExist):
		if fi, serr := s.stat(ctx, name); serr == nil && fi.IsDir {
			return nil, hostapi.ErrIsDir
		}
	}
	return nil, err
}

// Create starts an upload to the file name. Its parent must be a folder and name
// must not be one.
func (s *Store) Create(ctx context.Context, name string) (hostapi.Upload, error) {
	if err := s.check("create", name); err != nil {
		return nil, err
	}
	if err := s.canWrite(ctx, name); err != nil {
		return nil, s.errorf("create %q: %w", name, err)
	}
	return s.newUpload(ctx, name), nil
}

// canWrite checks that a file can be written at name.
func (s *Store) canWrite(ctx context.Context, name string) error {
	if name == "/" {
		return hostapi.ErrIsDir
	}
	if fi, err := s.stat(ctx, name); err == nil && fi.IsDir {
		return hostapi.ErrIsDir
	} else if err != nil && !errors.Is(err, hostapi.ErrNotExist) {
		return err
	}
	return s.needDir(ctx, path.Dir(name))
}

// Mkdir writes the marker object of the folder name.
func (s *Store) Mkdir(ctx context.Context, name string) error {
	if err := s.check("mkdir", name); err != nil {
		return err
	}
	if err := s.mkdir(ctx, name); err != nil {
		return s.errorf("mkdir %q: %w", name, err)
	}
	return nil
}

func (s *Store) mkdir(ctx context.Context, name string) error {
	if name == "/" {
		return hostapi.ErrExist
	}
	if _, err := s.stat(ctx, name); err == nil {
		return hostapi.ErrExist
	} else if !errors.Is(err, hostapi.ErrNotExist) {
		return err
	}
	if err := s.needDir(ctx, path.Dir(name)); err != nil {
		return err
	}
	return s.b.Put(ctx, s.dirKey(name), nil)
}

// Remove deletes a file, or an empty folder's marker.
func (s *Store) Remove(ctx context.Context, name string) error {
	if err := s.check("remove", name); err != nil {
		return err
	}
	if err := s.remove(ctx, name); err != nil {
		return s.errorf("remove %q: %w", name, err)
	}
	return nil
}

func (s *Store) remove(ctx context.Context, name string) error {
	if name == "/" {
		return fmt.Errorf("the root cannot be removed: %w", hostapi.ErrInvalid)
	}
	fi, err := s.stat(ctx, name)
	if err != nil {
		return err
	}
	if !fi.IsDir {
		return s.b.Delete(ctx, s.key(name))
	}
	dk := s.dirKey(name)
	for it, err := range s.b.List(ctx, Query{Prefix: dk, Delimiter: "/", PageSize: 2}) {
		if err != nil {
			return err
		}
		if it.Key != dk {
			return hostapi.ErrNotEmpty
		}
	}
	return s.b.Delete(ctx, dk)
}

// Rename moves a file (copy, then delete) or a folder: each object below it is copied
// server-side, then deleted, Concurrency at a time; the folder's marker moves last.
// A rename interrupted midway leaves every object either at its old or its new key
// and the target folder marked as the rename's destination: calling Rename again
// with the same arguments finishes it (the marker lets it proceed into the target
// folder that is no longer empty). A folder rename reports its progress to the
// context's hostapi.ProgressFunc every 100 objects and at the end; Total counts the
// objects left to move when the call started.
func (s *Store) Rename(ctx context.Context, from, to string) error {
	if err := s.check("rename", from); err != nil {
		return err
	}
	if err := s.check("rename", to); err != nil {
		return err
	}
	if err := s.rename(ctx, from, to); err != nil {
		return s.errorf("rename %q to %q: %w", from, to, err)
	}
	return nil
}

func (s *Store) rename(ctx context.Context, from, to string) error {
	switch {
	case from == "/" || to == "/":
		return fmt.Errorf("the root cannot move: %w", hostapi.ErrInvalid)
	case storeutil.IsWithin(to, from) && to != from:
		return fmt.Errorf("a folder cannot move into itself: %w", hostapi.ErrInvalid)
	}
	src, err := s.stat(ctx, from)
	if err != nil || from == to {
		return err
	}
	if err := s.needDir(ctx, path.Dir(to)); err != nil {
		return err
	}
	dst, err := s.stat(ctx, to)
	exists := err == nil
	if err != nil && !errors.Is(err, hostapi.ErrNotExist) {
		return err
	}
	switch {
	case !src.IsDir && exists && dst.IsDir:
		return hostapi.ErrIsDir
	case !src.IsDir:
		if err := s.b.Copy(ctx, s.key(from), s.key(to), src.Size); err != nil {
			return err
		}
		return s.b.Delete(ctx, s.key(from))
	case exists && !dst.IsDir:
		return hostapi.ErrNotDir
	case exists:
		if err := s.canMoveInto(ctx, from, to); err != nil {
			return err
		}
	}
	return s.moveTree(ctx, from, to)
}

// renameMarkerSuffix names the object that marks a folder as the destination of a
// folder rename in progress: PREFIX+"to/"+renameMarkerSuffix holds the source path.
const renameMarkerSuffix = ".filegate-rename-from"

// canMoveInto returns nil if the existing folder to may receive from's objects: it is
// empty, or it is the destination of the same rename, interrupted.
func (s *Store) canMoveInto(ctx context.Context, from, to string) error {
	dk := s.dirKey(to)
	journal := dk + renameMarkerSuffix
	if it, err := s.b.Head(ctx, journal); err == nil && it.Size == int64(len(from)) {
		if src, err := s.readSmall(ctx, journal); err == nil && src == from {
			return nil
		}
	}
	for it, err := range s.b.List(ctx, Query{Prefix: dk, Delimiter: "/", PageSize: 2}) {
		if err != nil {
			return err
		}
		if it.Key != dk {
			return hostapi.ErrNotEmpty
		}
	}
	return nil
}

// readSmall reads a small object whole.
func (s *Store) readSmall(ctx context.Context, key string) (string, error) {
	rc, err := s.b.Get(ctx, key, 0)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 4096))
	return string(b), err
}

// progressEvery is how many objects a folder rename moves between two progress
// reports (hostapi.ReportProgress).
const progressEvery = 100

// moveTree moves every object below the folder from to the same place below to,
// reporting its progress every progressEvery objects and at the end: Total is the
// number of objects left below from when it starts.
func (s *Store) moveTree(ctx context.Context, from, to string) error {
	fk, tk := s.dirKey(from), s.dirKey(to)
	journal := tk + renameMarkerSuffix
	if err := s.b.Put(ctx, journal, []byte(from)); err != nil {
		return err
	}
	total, err := s.count(ctx, fk)
	if err != nil {
		return err
	}
	// Each round lists what is left below from (moved objects are gone) and moves
	// a page of it, Concurrency objects at a time.
	const batch = 1000
	var done int64
	for {
		var items []Item
		for it, err := range s.b.List(ctx, Query{Prefix: fk, StartAfter: fk, PageSize: batch}) {
			if err != nil {
				return err
			}
			items = append(items, it)
			if len(items) == batch {
				break
			}
		}
		if len(items) == 0 {
			break
		}
		for chunk := range slices.Chunk(items, progressEvery) {
			if err := forEach(ctx, s.opts.Concurrency, chunk, func(ctx context.Context, it Item) error {
				return s.moveObject(ctx, it, tk+it.Key[len(fk):])
			}); err != nil {
				return err
			}
			done += int64(len(chunk))
			total = max(total, done) // objects written below from meanwhile
			hostapi.ReportProgress(ctx, hostapi.Progress{Done: done, Total: total, Path: from})
		}
	}
	if err := s.b.Put(ctx, tk, nil); err != nil {
		return err
	}
	if err := s.b.Delete(ctx, fk); err != nil {
		return err
	}
	return s.b.Delete(ctx, journal)
}

// moveObject copies the object it to the key dst, then deletes it.
func (s *Store) moveObject(ctx context.Context, it Item, dst string) error {
	var err error
	if strings.HasSuffix(dst, "/") && it.Size == 0 {
		err = s.b.Put(ctx, dst, nil) // a marker: some servers cannot copy one
	} else {
		err = s.b.Copy(ctx, it.Key, dst, it.Size)
	}
	if err != nil {
		return err
	}
	return s.b.Delete(ctx, it.Key)
}

// count returns the number of objects below the key prefix dk, not counting its marker.
func (s *Store) count(ctx context.Context, dk string) (int64, error) {
	var n int64
	for _, err := range s.b.List(ctx, Query{Prefix: dk, StartAfter: dk}) {
		if err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

// forEach calls f on every item, at most n at a time, and returns the first error;
// after an error it starts no more calls. It returns when every call has returned.
func forEach[T any](ctx context.Context, n int, items []T, f func(context.Context, T) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, it := range items {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f(ctx, it); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}
