package store

import (
	"context"
	"database/sql"
	"fmt"
	"path"
	"strings"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// Record appends ev to the tenant's durable event log and applies it to the metadata
// tree in the same transaction, so the two never disagree. It sets ev.ID.
// Record implements vfs.Journal.
func (s *Store) Record(ctx context.Context, tenantID int64, ev hostapi.Event) error {
	_, err := s.RecordID(ctx, tenantID, ev)
	return err
}

// RecordID is Record returning the new event's id. Concurrent calls share
// transactions (see groupCommit); each returns once its own event is committed.
func (s *Store) RecordID(ctx context.Context, tenantID int64, ev hostapi.Event) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("store: record %s %q: %w", ev.Type, ev.Path, err)
	}
	if ev.Time.IsZero() {
		ev.Time = now()
	}
	id, err := s.record(ctx, tenantID, ev)
	if err != nil {
		return 0, fmt.Errorf("store: record %s %q: %w", ev.Type, ev.Path, err)
	}
	return id, nil
}

// insertEvent appends ev to the event log and applies it to the metadata tree, in tx.
func (s *Store) insertEvent(ctx context.Context, tx *sql.Tx, tenantID int64, ev hostapi.Event) (int64, error) {
	var id int64
	err := s.txQueryRow(ctx, tx, qInsertEvent, tenantID, ev.Time.UnixMilli(), ev.Type, ev.Protocol, ev.Account, ev.Path, ev.From, ev.Size, ev.SHA256, ev.RemoteAddr, boolInt(ev.IsDir), ev.Done, ev.Total).Scan(&id)
	if err != nil {
		return 0, err
	}
	return id, s.applyToTree(ctx, tx, tenantID, ev)
}

// The statements of recorded events (prepared at Open: see preparedWrites).
const (
	qInsertEvent = `INSERT INTO events (tenant_id, time, type, protocol, account, path, from_path, size, sha256, remote_addr, is_dir, done, total) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	qTreeParent  = `INSERT INTO tree (tenant_id, path, type, size, modified, sha256, protocol, account) VALUES (?, ?, 'dir', 0, ?, '', ?, ?) ON CONFLICT (tenant_id, path) DO NOTHING`
	qTreeUpsert  = `INSERT INTO tree (tenant_id, path, type, size, modified, sha256, protocol, account) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, path) DO UPDATE SET type = excluded.type, size = excluded.size, modified = excluded.modified,
		sha256 = excluded.sha256, protocol = excluded.protocol, account = excluded.account`
	qTreeDelete = `DELETE FROM tree WHERE tenant_id = ? AND (path = ? OR (path >= ? AND path < ?))`
)

// applyToTree keeps the metadata tree in step with one event.
func (s *Store) applyToTree(ctx context.Context, tx *sql.Tx, tenantID int64, ev hostapi.Event) error {
	exec := func(q string, args ...any) error {
		_, err := s.txExec(ctx, tx, q, args...)
		return err
	}
	parents := func(p string) error {
		for dir := path.Dir(p); dir != "/" && dir != "."; dir = path.Dir(dir) {
			err := exec(qTreeParent, tenantID, dir, ev.Time.UnixMilli(), ev.Protocol, ev.Account)
			if err != nil {
				return err
			}
		}
		return nil
	}
	t := ev.Time.UnixMilli()
	switch ev.Type {
	case hostapi.EventFileUploaded:
		if err := parents(ev.Path); err != nil {
			return err
		}
		return exec(qTreeUpsert, tenantID, ev.Path, "file", ev.Size, t, ev.SHA256, ev.Protocol, ev.Account)
	case hostapi.EventDirCreated:
		if err := parents(ev.Path); err != nil {
			return err
		}
		return exec(qTreeUpsert, tenantID, ev.Path, "dir", 0, t, "", ev.Protocol, ev.Account)
	case hostapi.EventFileDeleted, hostapi.EventDirDeleted:
		lo, hi := descendants(ev.Path)
		return exec(qTreeDelete, tenantID, ev.Path, lo, hi)
	case hostapi.EventFileMoved:
		if err := parents(ev.Path); err != nil {
			return err
		}
		// The target is replaced, then the source and its descendants move under it.
		lo, hi := descendants(ev.Path)
		if err := exec(qTreeDelete, tenantID, ev.Path, lo, hi); err != nil {
			return err
		}
		lo, hi = descendants(ev.From)
		return exec(`UPDATE tree SET path = ? || SUBSTR(path, ?) WHERE tenant_id = ? AND (path = ? OR (path >= ? AND path < ?))`,
			ev.Path, len(ev.From)+1, tenantID, ev.From, lo, hi)
	}
	return nil
}

// EventFilter selects events.
type EventFilter struct {
	Type  string // exact type, "" for all
	Path  string // exact path or a folder prefix ending in "/", "" for all
	Limit int
	// Offset skips the newest Offset events; events come newest first.
	Offset int
}

// Events pages a tenant's event log, newest first, with the number that match.
func (s *Store) Events(ctx context.Context, tenantID int64, f EventFilter) ([]hostapi.Event, int, error) {
	where := []string{"tenant_id = ?"}
	args := []any{tenantID}
	if f.Type != "" {
		where, args = append(where, "type = ?"), append(args, f.Type)
	}
	if f.Path != "" {
		if strings.HasSuffix(f.Path, "/") {
			where, args = append(where, `path LIKE ? ESCAPE '\'`), append(args, escapeLike(f.Path)+"%")
		} else {
			where, args = append(where, "path = ?"), append(args, f.Path)
		}
	}
	cond := strings.Join(where, " AND ")
	var total int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM events WHERE `+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: events: %w", err)
	}
	rows, err := s.query(ctx, `SELECT id, time, type, protocol, account, path, from_path, size, sha256, remote_addr, is_dir, done, total FROM events WHERE `+cond+` ORDER BY id DESC LIMIT ? OFFSET ?`,
		append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: events: %w", err)
	}
	defer rows.Close()
	out := []hostapi.Event{}
	for rows.Next() {
		var ev hostapi.Event
		var t int64
		var isDir int
		if err := rows.Scan(&ev.ID, &t, &ev.Type, &ev.Protocol, &ev.Account, &ev.Path, &ev.From, &ev.Size, &ev.SHA256, &ev.RemoteAddr, &isDir, &ev.Done, &ev.Total); err != nil {
			return nil, 0, err
		}
		ev.Time, ev.IsDir = fromMS(t), isDir != 0
		out = append(out, ev)
	}
	return out, total, rows.Err()
}

// TreeEntry is one node of the metadata tree.
type TreeEntry struct {
	Path     string
	Type     string // file or dir
	Size     int64
	Modified int64 // unix milliseconds
	SHA256   string
	Protocol string
	Account  string
}

// Tree calls fn for every descendant of dir (a tenant path) in path order, streaming
// rows so memory does not grow with the tree. fn returning an error stops the walk.
func (s *Store) Tree(ctx context.Context, tenantID int64, dir string, fn func(TreeEntry) error) error {
	lo, hi := descendants(dir)
	rows, err := s.query(ctx, `SELECT path, type, size, modified, sha256, protocol, account FROM tree WHERE tenant_id = ? AND path >= ? AND path < ? ORDER BY path`,
		tenantID, lo, hi)
	if err != nil {
		return fmt.Errorf("store: tree %q: %w", dir, err)
	}
	defer rows.Close()
	for rows.Next() {
		var e TreeEntry
		if err := rows.Scan(&e.Path, &e.Type, &e.Size, &e.Modified, &e.SHA256, &e.Protocol, &e.Account); err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ReplaceTree swaps a tenant's whole metadata tree for entries, in one transaction
// (filegate reindex).
func (s *Store) ReplaceTree(ctx context.Context, tenantID int64, entries []TreeEntry) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.d.Rebind(`DELETE FROM tree WHERE tenant_id = ?`), tenantID); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, s.d.Rebind(`INSERT INTO tree (tenant_id, path, type, size, modified, sha256, protocol, account) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`))
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, e := range entries {
			if _, err := stmt.ExecContext(ctx, tenantID, e.Path, e.Type, e.Size, e.Modified, e.SHA256, e.Protocol, e.Account); err != nil {
				return fmt.Errorf("store: reindex %q: %w", e.Path, err)
			}
		}
		return nil
	})
}

// descendants returns the range [lo, hi) of the paths below dir: "/a" has "/a/..." in
// ["/a/", "/a0"), as '0' follows '/' in byte order. A range on the primary key walks
// the index; a LIKE would scan the tenant's whole tree.
func descendants(dir string) (lo, hi string) {
	base := strings.TrimSuffix(dir, "/")
	return base + "/", base + "0"
}
