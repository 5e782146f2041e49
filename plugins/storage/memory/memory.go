// Package memory is a storage backend holding a file tree in memory, for tests and
// throw-away setups. It has the same semantics as the local backend.
package memory

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"time"

	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/internal/storeutil"
)

// Storage is an in-memory hostapi.Storage. It is safe for concurrent use.
type Storage struct {
	mu   sync.RWMutex
	root *node
}

// node is a file or a folder. A file's data is never modified once committed: a new
// upload replaces the node, so readers of the previous version are unaffected.
type node struct {
	dir      bool
	data     []byte
	mod      time.Time
	children map[string]*node // folders only
}

var (
	_ hostapi.Storage = (*Storage)(nil)
	_ hostapi.Chtimer = (*Storage)(nil)
	_ hostapi.Opener  = Open
)

// New returns an empty Storage.
func New() *Storage {
	return &Storage{root: newDir()}
}

// Open builds an empty Storage from its `[[storage]] config` table, which takes no keys.
func Open(config map[string]any) (hostapi.Storage, error) {
	for k := range config {
		return nil, fmt.Errorf("memory: unknown config key %q", k)
	}
	return New(), nil
}

func newDir() *node {
	return &node{dir: true, mod: time.Now(), children: map[string]*node{}}
}

// Stat describes name.
func (s *Storage) Stat(ctx context.Context, name string) (hostapi.FileInfo, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, err := s.lookup("stat", name)
	if err != nil {
		return hostapi.FileInfo{}, err
	}
	base := name[strings.LastIndexByte(name, '/')+1:]
	return n.info(base), nil
}

// List returns one page of the folder dir.
func (s *Storage) List(ctx context.Context, dir string, opts hostapi.ListOptions) (hostapi.ListPage, error) {
	pager, err := storeutil.NewPager[hostapi.FileInfo](opts)
	if err != nil {
		return hostapi.ListPage{}, fmt.Errorf("memory: list %q: %w", dir, err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, err := s.lookup("list", dir)
	if err != nil {
		return hostapi.ListPage{}, err
	}
	if !n.dir {
		return hostapi.ListPage{}, fmt.Errorf("memory: list %q: %w", dir, hostapi.ErrNotDir)
	}
	for name, c := range n.children {
		if pager.Wants(name) {
			pager.Add(name, c.dir, c.info(name))
		}
	}
	entries, next := pager.Page()
	page := hostapi.ListPage{Entries: make([]hostapi.FileInfo, len(entries)), NextCursor: next}
	for i, e := range entries {
		page.Entries[i] = e.Value
	}
	return page, nil
}

// Open reads the file name from offset.
func (s *Storage) Open(ctx context.Context, name string, offset int64) (io.ReadCloser, error) {
	if offset < 0 {
		return nil, fmt.Errorf("memory: open %q: negative offset %d: %w", name, offset, hostapi.ErrInvalid)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, err := s.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if n.dir {
		return nil, fmt.Errorf("memory: open %q: %w", name, hostapi.ErrIsDir)
	}
	data := n.data[min(offset, int64(len(n.data))):]
	return io.NopCloser(bytes.NewReader(data)), nil
}

// Create starts writing the file name; the bytes are held by the Upload until Commit.
func (s *Storage) Create(ctx context.Context, name string) (hostapi.Upload, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, _, err := s.target("create", name); err != nil {
		return nil, err
	}
	return &Upload{s: s, name: name}, nil
}

// Mkdir creates the folder name; its parent must exist.
func (s *Storage) Mkdir(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name == "/" {
		return fmt.Errorf("memory: mkdir %q: %w", name, hostapi.ErrExist)
	}
	parent, base, err := s.parent("mkdir", name)
	if err != nil {
		return err
	}
	if _, ok := parent.children[base]; ok {
		return fmt.Errorf("memory: mkdir %q: %w", name, hostapi.ErrExist)
	}
	parent.children[base] = newDir()
	parent.mod = time.Now()
	return nil
}

// Rename moves a file or folder, replacing a file or an empty folder at to.
func (s *Storage) Rename(ctx context.Context, from, to string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	fail := func(err error) error {
		return fmt.Errorf("memory: rename %q to %q: %w", from, to, err)
	}
	if from == "/" || to == "/" {
		return fail(fmt.Errorf("the root cannot move: %w", hostapi.ErrInvalid))
	}
	srcParent, srcBase, err := s.parent("rename", from)
	if err != nil {
		return err
	}
	src, ok := srcParent.children[srcBase]
	if !ok {
		return fail(hostapi.ErrNotExist)
	}
	dstParent, dstBase, err := s.parent("rename", to)
	if err != nil {
		return err
	}
	if from == to {
		return nil
	}
	if src.dir && storeutil.IsWithin(to, from) {
		return fail(fmt.Errorf("a folder cannot move into itself: %w", hostapi.ErrInvalid))
	}
	if dst, ok := dstParent.children[dstBase]; ok {
		switch {
		case dst.dir && !src.dir:
			return fail(hostapi.ErrIsDir)
		case !dst.dir && src.dir:
			return fail(hostapi.ErrNotDir)
		case dst.dir && len(dst.children) > 0:
			return fail(hostapi.ErrNotEmpty)
		}
	}
	delete(srcParent.children, srcBase)
	dstParent.children[dstBase] = src
	now := time.Now()
	srcParent.mod, dstParent.mod = now, now
	return nil
}

// Remove deletes a file or an empty folder.
func (s *Storage) Remove(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name == "/" {
		return fmt.Errorf("memory: remove %q: the root cannot be removed: %w", name, hostapi.ErrInvalid)
	}
	parent, base, err := s.parent("remove", name)
	if err != nil {
		return err
	}
	n, ok := parent.children[base]
	switch {
	case !ok:
		return fmt.Errorf("memory: remove %q: %w", name, hostapi.ErrNotExist)
	case n.dir && len(n.children) > 0:
		return fmt.Errorf("memory: remove %q: %w", name, hostapi.ErrNotEmpty)
	}
	delete(parent.children, base)
	parent.mod = time.Now()
	return nil
}

// Chtimes sets the modification time of name.
func (s *Storage) Chtimes(ctx context.Context, name string, mtime time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.lookup("chtimes", name)
	if err != nil {
		return err
	}
	n.mod = mtime
	return nil
}

// lookup finds name; s.mu must be held.
func (s *Storage) lookup(op, name string) (*node, error) {
	if err := storeutil.CheckPath(name); err != nil {
		return nil, fmt.Errorf("memory: %s: %w", op, err)
	}
	n := s.root
	if name == "/" {
		return n, nil
	}
	for elem := range strings.SplitSeq(name[1:], "/") {
		if !n.dir {
			return nil, fmt.Errorf("memory: %s %q: %w", op, name, hostapi.ErrNotDir)
		}
		c, ok := n.children[elem]
		if !ok {
			return nil, fmt.Errorf("memory: %s %q: %w", op, name, hostapi.ErrNotExist)
		}
		n = c
	}
	return n, nil
}

// parent finds the folder holding name (which is not the root) and name's base name;
// s.mu must be held.
func (s *Storage) parent(op, name string) (*node, string, error) {
	if err := storeutil.CheckPath(name); err != nil {
		return nil, "", fmt.Errorf("memory: %s: %w", op, err)
	}
	i := strings.LastIndexByte(name, '/')
	dir := name[:max(i, 1)]
	p, err := s.lookup(op, dir)
	if err != nil {
		return nil, "", err
	}
	if !p.dir {
		return nil, "", fmt.Errorf("memory: %s %q: %w", op, name, hostapi.ErrNotDir)
	}
	return p, name[i+1:], nil
}

// target checks that a file can be written at name: its parent is a folder and name
// is not one. s.mu must be held.
func (s *Storage) target(op, name string) (*node, string, error) {
	if name == "/" {
		return nil, "", fmt.Errorf("memory: %s %q: %w", op, name, hostapi.ErrIsDir)
	}
	parent, base, err := s.parent(op, name)
	if err != nil {
		return nil, "", err
	}
	if c, ok := parent.children[base]; ok && c.dir {
		return nil, "", fmt.Errorf("memory: %s %q: %w", op, name, hostapi.ErrIsDir)
	}
	return parent, base, nil
}

func (n *node) info(name string) hostapi.FileInfo {
	fi := hostapi.FileInfo{Name: name, ModTime: n.mod, IsDir: n.dir}
	if !n.dir {
		fi.Size = int64(len(n.data))
	}
	return fi
}

// Upload is a file being written in memory. Besides hostapi.Upload it implements
// io.WriterAt and io.ReaderAt, like the local backend's. It is safe for concurrent use.
type Upload struct {
	s    *Storage
	name string

	mu   sync.Mutex
	buf  []byte
	done bool
}

var (
	_ hostapi.Upload = (*Upload)(nil)
	_ io.WriterAt    = (*Upload)(nil)
	_ io.ReaderAt    = (*Upload)(nil)
)

// Write appends p to the upload.
func (u *Upload) Write(p []byte) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.done {
		return 0, fmt.Errorf("memory: write %q: %w", u.name, fs.ErrClosed)
	}
	u.buf = append(u.buf, p...)
	return len(p), nil
}

// WriteAt writes p at offset off, growing the file as needed.
func (u *Upload) WriteAt(p []byte, off int64) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case u.done:
		return 0, fmt.Errorf("memory: write %q: %w", u.name, fs.ErrClosed)
	case off < 0:
		return 0, fmt.Errorf("memory: write %q: negative offset %d: %w", u.name, off, hostapi.ErrInvalid)
	}
	if end := off + int64(len(p)); end > int64(len(u.buf)) {
		u.buf = append(u.buf, make([]byte, end-int64(len(u.buf)))...)
	}
	return copy(u.buf[off:], p), nil
}

// ReadAt reads back bytes written so far.
func (u *Upload) ReadAt(p []byte, off int64) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if off < 0 {
		return 0, fmt.Errorf("memory: read %q: negative offset %d: %w", u.name, off, hostapi.ErrInvalid)
	}
	if off >= int64(len(u.buf)) {
		return 0, io.EOF
	}
	n := copy(p, u.buf[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Commit makes the upload visible at its target. On failure the upload is discarded.
func (u *Upload) Commit(ctx context.Context) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.done {
		return fmt.Errorf("memory: commit %q: %w", u.name, fs.ErrClosed)
	}
	u.done = true
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: commit %q: %w", u.name, err)
	}
	u.s.mu.Lock()
	defer u.s.mu.Unlock()
	parent, base, err := u.s.target("commit", u.name)
	if err != nil {
		return err
	}
	now := time.Now()
	parent.children[base] = &node{data: u.buf, mod: now}
	parent.mod = now
	u.buf = nil
	return nil
}

// Abort discards the upload; it does nothing after Commit or a previous Abort.
func (u *Upload) Abort() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.done = true
	u.buf = nil
	return nil
}
