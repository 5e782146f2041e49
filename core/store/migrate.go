package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// migrations are applied in order, each once; never edit one that has shipped, append.
// They use portable SQL; {{id}}, {{blob}}, {{clustered}} and {{path}} are rewritten by
// the Dialect. Statements are separated by ";" at the end of a line.
var migrations = []string{
	// 1: the foundation.
	`CREATE TABLE tenants (
		id {{id}},
		association_key TEXT NOT NULL UNIQUE,
		name TEXT NOT NULL,
		storage TEXT NOT NULL,
		storage_root TEXT NOT NULL,
		created_at BIGINT NOT NULL
	);
	CREATE TABLE api_accounts (
		id {{id}},
		tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
		access_key TEXT NOT NULL UNIQUE,
		secret_hash TEXT NOT NULL,
		scopes TEXT NOT NULL,
		path_prefix TEXT NOT NULL,
		description TEXT NOT NULL,
		expires_at BIGINT NOT NULL,
		created_at BIGINT NOT NULL
	);
	CREATE TABLE ftp_accounts (
		id {{id}},
		tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
		username TEXT NOT NULL UNIQUE,
		password_hash TEXT NOT NULL,
		ssh_keys TEXT NOT NULL,
		access_rights TEXT NOT NULL,
		chroot TEXT NOT NULL,
		description TEXT NOT NULL,
		enabled INTEGER NOT NULL,
		allowed_ips TEXT NOT NULL,
		created_at BIGINT NOT NULL,
		updated_at BIGINT NOT NULL
	);
	CREATE INDEX ftp_accounts_tenant ON ftp_accounts(tenant_id, id);
	CREATE TABLE signing_keys (
		id {{id}},
		secret {{blob}} NOT NULL,
		created_at BIGINT NOT NULL
	);
	CREATE TABLE events (
		id {{id}},
		tenant_id BIGINT NOT NULL,
		time BIGINT NOT NULL,
		type TEXT NOT NULL,
		protocol TEXT NOT NULL,
		account TEXT NOT NULL,
		path TEXT NOT NULL,
		from_path TEXT NOT NULL,
		size BIGINT NOT NULL,
		sha256 TEXT NOT NULL,
		remote_addr TEXT NOT NULL,
		is_dir INTEGER NOT NULL
	);
	CREATE INDEX events_tenant ON events(tenant_id, id);
	CREATE INDEX events_tenant_type ON events(tenant_id, type, id);
	CREATE TABLE tree (
		tenant_id BIGINT NOT NULL,
		path {{path}} NOT NULL,
		type TEXT NOT NULL,
		size BIGINT NOT NULL,
		modified BIGINT NOT NULL,
		sha256 TEXT NOT NULL,
		protocol TEXT NOT NULL,
		account TEXT NOT NULL,
		PRIMARY KEY (tenant_id, path)
	) {{clustered}};
	CREATE TABLE multi_downloads (
		id TEXT PRIMARY KEY,
		tenant_id BIGINT NOT NULL,
		access_key TEXT NOT NULL,
		paths TEXT NOT NULL,
		expires_at BIGINT NOT NULL
	);`,
	// 2: one-time web console login links (filegate console-link); only a hash of the
	// code is kept, and redeeming deletes the row.
	`CREATE TABLE console_links (
		code_hash TEXT PRIMARY KEY,
		tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
		scopes TEXT NOT NULL,
		path_prefix TEXT NOT NULL,
		session_ms BIGINT NOT NULL,
		expires_at BIGINT NOT NULL,
		created_at BIGINT NOT NULL
	);`,
	// 3: the rules engine (rules.go) and API-managed webhooks (webhooks.go).
	`CREATE TABLE rule_cursors (
		rule TEXT PRIMARY KEY,
		last_event_id BIGINT NOT NULL
	);
	CREATE TABLE rule_runs (
		id {{id}},
		rule TEXT NOT NULL,
		tenant_id BIGINT NOT NULL,
		event_id BIGINT NOT NULL,
		path TEXT NOT NULL,
		due_at BIGINT NOT NULL,
		status TEXT NOT NULL,
		attempts INTEGER NOT NULL,
		next_at BIGINT NOT NULL,
		lease_until BIGINT NOT NULL,
		owner TEXT NOT NULL,
		last_error TEXT NOT NULL,
		created_at BIGINT NOT NULL,
		updated_at BIGINT NOT NULL
	);
	CREATE UNIQUE INDEX rule_runs_event ON rule_runs(rule, event_id) WHERE event_id > 0;
	CREATE INDEX rule_runs_claim ON rule_runs(rule, status, id);
	CREATE INDEX rule_runs_order ON rule_runs(rule, path, id);
	CREATE TABLE rule_attempts (
		id {{id}},
		run_id BIGINT NOT NULL REFERENCES rule_runs(id) ON DELETE CASCADE,
		attempt INTEGER NOT NULL,
		started_at BIGINT NOT NULL,
		duration_ms BIGINT NOT NULL,
		status_code INTEGER NOT NULL,
		error TEXT NOT NULL
	);
	CREATE INDEX rule_attempts_run ON rule_attempts(run_id, id);
	CREATE TABLE rule_schedules (
		rule TEXT PRIMARY KEY,
		next_at BIGINT NOT NULL
	);
	CREATE TABLE webhooks (
		id {{id}},
		tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
		url TEXT NOT NULL,
		events TEXT NOT NULL,
		path_prefix TEXT NOT NULL,
		secret TEXT NOT NULL,
		enabled INTEGER NOT NULL,
		created_at BIGINT NOT NULL,
		updated_at BIGINT NOT NULL
	);
	CREATE INDEX webhooks_tenant ON webhooks(tenant_id, id);`,
	// 4: the plugins' key-value store (kv.go); namespace is the plugin's name.
	`CREATE TABLE plugin_kv (
		namespace TEXT NOT NULL,
		key TEXT NOT NULL,
		value {{blob}} NOT NULL,
		updated_at BIGINT NOT NULL,
		PRIMARY KEY (namespace, key)
	) {{clustered}};`,
	// 5: the progress of dir.moving events.
	`ALTER TABLE events ADD COLUMN done BIGINT NOT NULL DEFAULT 0;
	ALTER TABLE events ADD COLUMN total BIGINT NOT NULL DEFAULT 0;`,
}

// migrate applies the migrations the database has not seen yet, each in a transaction,
// holding the dialect's migration lock so that nodes starting together do not race.
func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	defer conn.Close()
	unlock, err := s.d.LockMigrations(ctx, conn)
	if err != nil {
		return fmt.Errorf("store: migrate: lock: %w", err)
	}
	defer unlock()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	var have int
	if err := conn.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	if have > len(migrations) {
		return fmt.Errorf("store: the database is at schema version %d but this filegate knows only %d: upgrade filegate", have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		if err := s.applyMigration(ctx, conn, v); err != nil {
			return fmt.Errorf("store: migration %d: %w", v, err)
		}
	}
	return nil
}

func (s *Store) applyMigration(ctx context.Context, conn *sql.Conn, v int) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Another process may have applied it since we looked (SQLite has no lock to hold
	// across processes; within this transaction the database is ours).
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return err
	}
	if have >= v {
		return nil
	}
	for _, stmt := range strings.Split(s.d.DDL(migrations[v-1]), ";\n") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%w\n%s", err, strings.TrimSpace(stmt))
		}
	}
	if _, err := tx.ExecContext(ctx, s.d.Rebind(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), v, ms(now())); err != nil {
		return err
	}
	return tx.Commit()
}

// Migrate applies pending migrations explicitly (filegate migrate); Open does it too.
// It returns the schema version the database is at.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	if err := s.migrate(ctx); err != nil {
		return 0, err
	}
	var v int
	err := s.w.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}
