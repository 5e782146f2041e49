package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Webhook is an API-managed webhook of a tenant. The rules engine serves each enabled
// one as a rule named WebhookRule(ID) running the builtin webhook plugin.
//
// Secret signs deliveries (HMAC-SHA256), so unlike passwords and API secrets it is
// kept as given: the gateway needs it back to sign. It is never returned by the API.
type Webhook struct {
	ID         int64
	TenantID   int64
	URL        string
	Events     []string // event types; empty means every type
	PathPrefix string   // only events at or under this folder; "" or "/" for all
	Secret     string
	Enabled    bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// WebhookRule is the rule name the engine gives webhook id: its runs are the
// webhook's deliveries.
func WebhookRule(id int64) string { return "webhook:" + strconv.FormatInt(id, 10) }

const webhookCols = `id, tenant_id, url, events, path_prefix, secret, enabled, created_at, updated_at`

func scanWebhook(row interface{ Scan(...any) error }) (Webhook, error) {
	var w Webhook
	var events string
	var enabled int
	var created, updated int64
	err := row.Scan(&w.ID, &w.TenantID, &w.URL, &events, &w.PathPrefix, &w.Secret, &enabled, &created, &updated)
	w.Events, w.Enabled, w.CreatedAt, w.UpdatedAt = splitList(events, ","), enabled != 0, fromMS(created), fromMS(updated)
	return w, err
}

// CreateWebhook adds a webhook and, in the same transaction, its rule's cursor at the
// end of the event log: it is sent every event recorded after it exists.
func (s *Store) CreateWebhook(ctx context.Context, w Webhook) (Webhook, error) {
	w.CreatedAt = now()
	w.UpdatedAt = w.CreatedAt
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, s.d.Rebind(`INSERT INTO webhooks (tenant_id, url, events, path_prefix, secret, enabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			w.TenantID, w.URL, strings.Join(w.Events, ","), w.PathPrefix, w.Secret, boolInt(w.Enabled), ms(w.CreatedAt), ms(w.UpdatedAt)).Scan(&w.ID)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.d.Rebind(`INSERT INTO rule_cursors (rule, last_event_id) SELECT ?, COALESCE(MAX(id), 0) FROM events`), WebhookRule(w.ID))
		return err
	})
	if err != nil {
		return Webhook{}, fmt.Errorf("store: create webhook: %w", err)
	}
	return w, nil
}

// UpdateWebhook replaces a webhook's URL, Events, PathPrefix, Secret and Enabled.
func (s *Store) UpdateWebhook(ctx context.Context, w Webhook) (Webhook, error) {
	row := s.w.QueryRowContext(ctx, s.d.Rebind(`UPDATE webhooks SET url = ?, events = ?, path_prefix = ?, secret = ?, enabled = ?, updated_at = ?
		WHERE id = ? AND tenant_id = ? RETURNING `+webhookCols),
		w.URL, strings.Join(w.Events, ","), w.PathPrefix, w.Secret, boolInt(w.Enabled), ms(now()), w.ID, w.TenantID)
	out, err := scanWebhook(row)
	return out, notFound(err, fmt.Sprintf("webhook %d", w.ID))
}

// Webhook returns one webhook of a tenant.
func (s *Store) Webhook(ctx context.Context, tenantID, id int64) (Webhook, error) {
	w, err := scanWebhook(s.queryRow(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE id = ? AND tenant_id = ?`, id, tenantID))
	return w, notFound(err, fmt.Sprintf("webhook %d", id))
}

// Webhooks pages a tenant's webhooks, oldest first, with the number it has.
func (s *Store) Webhooks(ctx context.Context, tenantID int64, limit, offset int) ([]Webhook, int, error) {
	var total int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM webhooks WHERE tenant_id = ?`, tenantID).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: webhooks: %w", err)
	}
	out, err := s.webhooks(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE tenant_id = ? ORDER BY id LIMIT ? OFFSET ?`, tenantID, limit, offset)
	return out, total, err
}

// AllWebhooks returns every tenant's webhooks (for the rules engine).
func (s *Store) AllWebhooks(ctx context.Context) ([]Webhook, error) {
	return s.webhooks(ctx, `SELECT `+webhookCols+` FROM webhooks ORDER BY id`)
}

func (s *Store) webhooks(ctx context.Context, q string, args ...any) ([]Webhook, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: webhooks: %w", err)
	}
	defer rows.Close()
	out := []Webhook{}
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// DeleteWebhook removes a webhook with its rule state: cursor and deliveries.
func (s *Store) DeleteWebhook(ctx context.Context, tenantID, id int64) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.Rebind(`DELETE FROM webhooks WHERE id = ? AND tenant_id = ?`), id, tenantID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("webhook %d: %w", id, ErrNotFound)
		}
		rule := WebhookRule(id)
		for _, q := range []string{`DELETE FROM rule_runs WHERE rule = ?`, `DELETE FROM rule_cursors WHERE rule = ?`} {
			if _, err := tx.ExecContext(ctx, s.d.Rebind(q), rule); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: delete webhook: %w", err)
	}
	return nil
}
