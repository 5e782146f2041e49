// Package store is Filegate's state: tenants, REST API accounts, FTP accounts, signing
// keys, the event log and the metadata tree, in SQLite (embedded, the default) or,
// later, PostgreSQL. SQL is written once with ? placeholders; everything that differs
// between databases lives in a Dialect.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors returned by the store, matched with errors.Is.
var (
	ErrNotFound  = errors.New("not found")
	ErrDuplicate = errors.New("already exists")
)

// Store is the database. Its methods are safe for concurrent use.
type Store struct {
	d Dialect
	w *sql.DB // writes (one connection for SQLite, so writers queue instead of failing)
	r *sql.DB // reads
	// writeStmts and readStmts hold the statements of preparedWrites (on w) and
	// preparedReads (on r), prepared at Open, by query; read-only after Open. Two maps:
	// a statement runs only on its own pool (a Tx refuses another pool's).
	writeStmts, readStmts map[string]*sql.Stmt
	// group shares Record's transactions between concurrent callers when the writer
	// has one connection (SQLite), where they would queue for it one by one anyway.
	// PostgreSQL's writers commit in parallel and the server groups their flushes.
	group *groupCommit
}

// Dialect is what differs between the databases the store runs on.
type Dialect interface {
	// Name is the driver name in config, "sqlite" or "postgres".
	Name() string
	// Open returns the pools for writes and reads (they may be the same).
	Open(dsn string) (w, r *sql.DB, err error)
	// Rebind rewrites ? placeholders into the database's own form.
	Rebind(query string) string
	// DDL rewrites the portable type names used in migrations ({{id}}, {{blob}}).
	DDL(stmt string) string
	// IsDuplicate reports whether err is a unique-constraint violation.
	IsDuplicate(err error) bool
	// LockMigrations keeps other nodes from migrating until unlock is called.
	LockMigrations(ctx context.Context, conn *sql.Conn) (unlock func(), err error)
}

// Open opens the database selected by driver ("sqlite": dsn is a file path;
// "postgres": dsn is a libpq URL or key=value string) and applies every pending
// migration.
func Open(ctx context.Context, driver, dsn string) (*Store, error) {
	var d Dialect
	switch driver {
	case "sqlite", "":
		d = sqliteDialect{}
	case "postgres":
		d = postgresDialect{}
	default:
		return nil, fmt.Errorf("store: unknown driver %q (want \"sqlite\" or \"postgres\")", driver)
	}
	w, r, err := d.Open(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", d.Name(), err)
	}
	s := &Store{d: d, w: w, r: r}
	if w.Stats().MaxOpenConnections == 1 {
		s.group = new(groupCommit)
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// preparedWrites are the statements of every recorded event (see RecordID) and
// preparedReads those every request reads: the REST API account and tenant behind a
// bearer token, an FTP or SFTP login's account, a folder listing, a download's stored
// SHA-256. Prepared once, at Open, on the pool that runs them, instead of parsed again
// each time, which for SQLite took a quarter of an event's CPU (BenchmarkRecordUpload)
// and half of a token check's (BenchmarkRequestLookups).
var (
	preparedWrites = []string{qInsertEvent, qTreeParent, qTreeUpsert, qTreeDelete}
	preparedReads  = []string{qTenantByID, qAPIAccountByKey, qFTPAccountByUsername, qTreeType, qChildren, qFileSum}
)

// prepare prepares preparedWrites on the writer and preparedReads on the readers. It
// runs before any transaction: with SQLite's single writer connection, preparing on the
// pool during one would wait for it.
func (s *Store) prepare(ctx context.Context) (err error) {
	if s.writeStmts, err = s.prepareOn(ctx, s.w, preparedWrites); err != nil {
		return err
	}
	s.readStmts, err = s.prepareOn(ctx, s.r, preparedReads)
	return err
}

// prepareOn prepares queries on db, by query.
func (s *Store) prepareOn(ctx context.Context, db *sql.DB, queries []string) (map[string]*sql.Stmt, error) {
	stmts := make(map[string]*sql.Stmt, len(queries))
	for _, q := range queries {
		st, err := db.PrepareContext(ctx, s.d.Rebind(q))
		if err != nil {
			closeStmts(stmts)
			return nil, fmt.Errorf("store: prepare %q: %w", q, err)
		}
		stmts[q] = st
	}
	return stmts, nil
}

func closeStmts(stmts map[string]*sql.Stmt) {
	for _, st := range stmts {
		st.Close()
	}
}

// txExec runs q in tx, as the statement prepared at Open when it is one.
func (s *Store) txExec(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	if st := s.writeStmts[q]; st != nil {
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, s.d.Rebind(q), args...)
}

// txQueryRow runs q in tx, as the statement prepared at Open when it is one.
func (s *Store) txQueryRow(ctx context.Context, tx *sql.Tx, q string, args ...any) *sql.Row {
	if st := s.writeStmts[q]; st != nil {
		return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, s.d.Rebind(q), args...)
}

// Close closes the database.
func (s *Store) Close() error {
	closeStmts(s.writeStmts)
	closeStmts(s.readStmts)
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return s.w.ExecContext(ctx, s.d.Rebind(q), args...)
}

// query runs q on the readers, as the statement prepared at Open when it is one.
func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := s.readStmts[q]; st != nil {
		return st.QueryContext(ctx, args...)
	}
	return s.r.QueryContext(ctx, s.d.Rebind(q), args...)
}

// queryRow runs q on the readers, as the statement prepared at Open when it is one.
func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := s.readStmts[q]; st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.r.QueryRowContext(ctx, s.d.Rebind(q), args...)
}

// insertID runs an INSERT ... RETURNING id on the write pool.
func (s *Store) insertID(ctx context.Context, q string, args ...any) (int64, error) {
	var id int64
	err := s.w.QueryRowContext(ctx, s.d.Rebind(q+" RETURNING id"), args...).Scan(&id)
	if err != nil && s.d.IsDuplicate(err) {
		return 0, ErrDuplicate
	}
	return id, err
}

// inTx runs fn in a write transaction.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// ms converts a time to the integer milliseconds the schema stores.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMS is the inverse of ms.
func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func splitList(s string, sep string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, sep)
}

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return err
}
