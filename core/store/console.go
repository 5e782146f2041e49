package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ConsoleLink is a one-time web console login link: redeeming its code once, before
// ExpiresAt, creates a REST API account with Scopes under PathPrefix that lives for
// Session. Only a hash of the code is stored.
type ConsoleLink struct {
	CodeHash   string
	TenantID   int64
	Scopes     []string
	PathPrefix string
	Session    time.Duration
	ExpiresAt  time.Time
	CreatedAt  time.Time
}

// CreateConsoleLink stores l and removes the links that have expired unredeemed.
func (s *Store) CreateConsoleLink(ctx context.Context, l ConsoleLink) error {
	l.CreatedAt = now()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.d.Rebind(`DELETE FROM console_links WHERE expires_at <= ?`), ms(l.CreatedAt)); err != nil {
			return fmt.Errorf("store: create console link: %w", err)
		}
		_, err := tx.ExecContext(ctx, s.d.Rebind(`INSERT INTO console_links (code_hash, tenant_id, scopes, path_prefix, session_ms, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
			l.CodeHash, l.TenantID, strings.Join(l.Scopes, " "), l.PathPrefix, l.Session.Milliseconds(), ms(l.ExpiresAt), ms(l.CreatedAt))
		if err != nil {
			if s.d.IsDuplicate(err) {
				return fmt.Errorf("store: create console link: %w", ErrDuplicate)
			}
			return fmt.Errorf("store: create console link: %w", err)
		}
		return nil
	})
}

// RedeemConsoleLink removes and returns the unexpired link whose code hashes to
// codeHash. It succeeds at most once per link; an unknown, used or expired code is
// ErrNotFound.
func (s *Store) RedeemConsoleLink(ctx context.Context, codeHash string) (ConsoleLink, error) {
	l := ConsoleLink{CodeHash: codeHash}
	var scopes string
	var session, exp, created int64
	err := s.w.QueryRowContext(ctx, s.d.Rebind(`DELETE FROM console_links WHERE code_hash = ? AND expires_at > ? RETURNING tenant_id, scopes, path_prefix, session_ms, expires_at, created_at`),
		codeHash, ms(now())).Scan(&l.TenantID, &scopes, &l.PathPrefix, &session, &exp, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return ConsoleLink{}, fmt.Errorf("console login link: %w", ErrNotFound)
	}
	if err != nil {
		return ConsoleLink{}, fmt.Errorf("store: redeem console link: %w", err)
	}
	l.Scopes, l.Session, l.ExpiresAt, l.CreatedAt = splitList(scopes, " "), time.Duration(session)*time.Millisecond, fromMS(exp), fromMS(created)
	return l, nil
}

// EventCounts counts a tenant's events of each type recorded at or after since.
func (s *Store) EventCounts(ctx context.Context, tenantID int64, since time.Time) (map[string]int, error) {
	rows, err := s.query(ctx, `SELECT type, COUNT(*) FROM events WHERE tenant_id = ? AND time >= ? GROUP BY type`, tenantID, ms(since))
	if err != nil {
		return nil, fmt.Errorf("store: event counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var t string
		var n int
		if err := rows.Scan(&t, &n); err != nil {
			return nil, fmt.Errorf("store: event counts: %w", err)
		}
		out[t] = n
	}
	return out, rows.Err()
}
