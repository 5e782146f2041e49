package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// DefaultChildrenLimit is the page size of ListChildren when opts.Limit is not set.
const DefaultChildrenLimit = 1000

// ListChildren lists the direct children of the folder dir (a tenant path) from the
// metadata tree, a page at a time, sorted by name, as a storage backend's List does
// (it honours Limit, Cursor, Prefix, DirsOnly and FilesOnly). The tree holds a row
// for every folder, so each child folder's subtree is skipped with one range query:
// a folder with few children lists quickly however deep its subtrees are. A missing
// dir is hostapi.ErrNotExist, a file hostapi.ErrNotDir.
func (s *Store) ListChildren(ctx context.Context, tenantID int64, dir string, opts hostapi.ListOptions) (hostapi.ListPage, error) {
	if err := s.checkDir(ctx, tenantID, dir); err != nil {
		return hostapi.ListPage{}, err
	}
	limit := opts.Limit
	if limit <= 0 {
		limit = DefaultChildrenLimit
	}
	lo, hi := descendants(dir)
	// Rows are read from "from" on, all but "after": the cursor is the last name
	// returned.
	from, after := lo+opts.Prefix, ""
	if opts.Cursor != "" && lo+opts.Cursor >= from {
		from, after = lo+opts.Cursor, lo+opts.Cursor
	}
	var page hostapi.ListPage
	for {
		var done bool
		var err error
		from, after, done, err = s.childrenFrom(ctx, tenantID, lo, from, after, hi, opts, limit+1, &page)
		if err != nil {
			return hostapi.ListPage{}, fmt.Errorf("store: list %q: %w", dir, err)
		}
		if done {
			break
		}
	}
	if len(page.Entries) > limit {
		page.Entries = page.Entries[:limit]
		page.NextCursor = page.Entries[limit-1].Name
	}
	return page, nil
}

// Queries of a listing (prepared at Open: see preparedReads).
const (
	qChildren = `SELECT path, type, size, modified FROM tree WHERE tenant_id = ? AND path >= ? AND path < ? AND path <> ? ORDER BY path LIMIT ?`
	qTreeType = `SELECT type FROM tree WHERE tenant_id = ? AND path = ?`
)

// childrenFrom reads rows of the folder lo ("/dir/") in [from, hi) but after,
// appending direct children to page until it holds want entries. It returns done, or
// where to read on: past a child folder's subtree when it met its descendants.
func (s *Store) childrenFrom(ctx context.Context, tenantID int64, lo, from, after, hi string, opts hostapi.ListOptions, want int, page *hostapi.ListPage) (nextFrom, nextAfter string, done bool, err error) {
	quota := want - len(page.Entries)
	rows, err := s.query(ctx, qChildren,
		tenantID, from, hi, after, quota)
	if err != nil {
		return "", "", false, err
	}
	defer rows.Close()
	n, last := 0, ""
	for rows.Next() {
		var p, typ string
		var size, modified int64
		if err := rows.Scan(&p, &typ, &size, &modified); err != nil {
			return "", "", false, err
		}
		n, last = n+1, p
		name := p[len(lo):]
		if !strings.HasPrefix(name, opts.Prefix) {
			return "", "", true, nil // past the names with the prefix
		}
		if i := strings.IndexByte(name, '/'); i >= 0 {
			// A descendant of the child folder name[:i], listed already: skip its
			// subtree, which ends before "/dir/child0" ('0' follows '/').
			return lo + name[:i] + "0", "", false, rows.Err()
		}
		isDir := typ == "dir"
		if (opts.DirsOnly && !isDir) || (opts.FilesOnly && isDir) {
			continue
		}
		page.Entries = append(page.Entries, hostapi.FileInfo{Name: name, Size: size, ModTime: time.UnixMilli(modified), IsDir: isDir})
		if len(page.Entries) == want {
			return "", "", true, rows.Err()
		}
	}
	if err := rows.Err(); err != nil {
		return "", "", false, err
	}
	if n < quota {
		return "", "", true, nil // the range is exhausted
	}
	return last, last, false, nil // rows filtered out used the quota: read on
}

// checkDir returns nil when dir is the root or a folder in the tree.
func (s *Store) checkDir(ctx context.Context, tenantID int64, dir string) error {
	if dir == "/" || dir == "" {
		return nil
	}
	var typ string
	err := s.queryRow(ctx, qTreeType, tenantID, dir).Scan(&typ)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("store: list %q: %w", dir, hostapi.ErrNotExist)
	case err != nil:
		return fmt.Errorf("store: list %q: %w", dir, err)
	case typ != "dir":
		return fmt.Errorf("store: list %q: %w", dir, hostapi.ErrNotDir)
	}
	return nil
}
