package local

import (
	"slices"
	"sync"
	"time"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// Listing cache. Reading a folder costs a system call per entry on filesystems that
// do not report entry types (an lstat each), so List keeps the pages it answered
// recently and answers the same request again after one stat of the folder.
//
// The rule: a cached page is used only while
//   - the folder's identity, modification time and change time are those it had when
//     the page was read — every entry created, removed or renamed in it, by Filegate or
//     by any other process, changes both times;
//   - the folder had not changed for listSettle before it was read, so that a change
//     made within the same timestamp tick as the previous one (timestamps are coarse:
//     a jiffy, or seconds on some filesystems) cannot go unnoticed;
//   - the page is younger than listTTL.
//
// What a folder's times do not show is a file changed in place — rewritten,
// truncated or given new times — or a subfolder's own time changing. Filegate never
// writes a file in place (uploads are renamed into place), and its own Chtimes drops
// the folder's pages; another process writing a file in place is seen within listTTL.
const (
	listTTL     = time.Second
	listSettle  = 2 * time.Second // FAT's two-second timestamps are the coarsest in use
	listMaxKept = 64 << 10        // entries held across all cached pages
)

// dirStamp identifies one state of a folder.
type dirStamp struct {
	dev, ino     uint64
	mtime, ctime int64 // nanoseconds since the epoch
}

// listKey is one listing request.
type listKey struct {
	dir  string // relative to the root
	opts hostapi.ListOptions
}

// cachedPage is a page as List returned it, with the folder's state when it was read.
type cachedPage struct {
	stamp dirStamp
	read  time.Time
	page  hostapi.ListPage
}

// listCache holds recent listing pages, at most listMaxKept entries in all. The zero
// value is not usable: see newListCache. It is safe for concurrent use.
type listCache struct {
	now func() time.Time

	mu    sync.Mutex
	pages map[listKey]cachedPage
	kept  int // entries in pages
}

func newListCache() *listCache {
	return &listCache{now: time.Now, pages: map[listKey]cachedPage{}}
}

// get returns a copy of the page cached for k, if the folder is still in state st and
// the page is fresh.
func (c *listCache) get(k listKey, st dirStamp) (hostapi.ListPage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.pages[k]
	switch {
	case !ok:
		return hostapi.ListPage{}, false
	case p.stamp != st || c.now().Sub(p.read) >= listTTL:
		c.dropLocked(k, p)
		return hostapi.ListPage{}, false
	}
	// The caller owns what List returns: it gets its own slice.
	return hostapi.ListPage{Entries: slices.Clone(p.page.Entries), NextCursor: p.page.NextCursor}, true
}

// put keeps page, read from the folder in state st, unless the folder changed too
// recently for its times to tell a later change apart (see listSettle).
func (c *listCache) put(k listKey, st dirStamp, page hostapi.ListPage) {
	now := c.now()
	if now.UnixNano()-max(st.mtime, st.ctime) < int64(listSettle) || len(page.Entries) > listMaxKept {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.pages[k]; ok {
		c.dropLocked(k, old)
	}
	for k, p := range c.pages { // make room: stale pages first, then any
		if now.Sub(p.read) >= listTTL {
			c.dropLocked(k, p)
		}
	}
	for k, p := range c.pages {
		if c.kept+len(page.Entries) <= listMaxKept {
			break
		}
		c.dropLocked(k, p)
	}
	c.pages[k] = cachedPage{stamp: st, read: now, page: hostapi.ListPage{Entries: slices.Clone(page.Entries), NextCursor: page.NextCursor}}
	c.kept += len(page.Entries)
}

// forget drops every page of the folder dir (relative to the root). A nil cache has
// nothing to drop.
func (c *listCache) forget(dir string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, p := range c.pages {
		if k.dir == dir {
			c.dropLocked(k, p)
		}
	}
}

// dropLocked removes the page p kept for k; c.mu is held.
func (c *listCache) dropLocked(k listKey, p cachedPage) {
	delete(c.pages, k)
	c.kept -= len(p.page.Entries)
}
