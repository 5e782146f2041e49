package store

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteDialect is the embedded default: one file, WAL mode, one writer.
type sqliteDialect struct{}

func (sqliteDialect) Name() string { return "sqlite" }

func (sqliteDialect) Open(dsn string) (w, r *sql.DB, err error) {
	pragmas := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(ON)",
		// Reads of big listings (the metadata tree) go through memory maps and a 64 MiB
		// page cache instead of a pread system call per page.
		"mmap_size(1073741824)", "cache_size(-65536)"} {
		pragmas.Add("_pragma", p)
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	full := "file:" + dsn + sep + pragmas.Encode()
	// Write transactions take the write lock when they begin (BEGIN IMMEDIATE), so
	// two writers, in this process or another, queue on busy_timeout instead of
	// failing when the second tries to upgrade a read lock.
	if w, err = sql.Open("sqlite", full+"&_txlock=immediate"); err != nil {
		return nil, nil, err
	}
	w.SetMaxOpenConns(1)
	if r, err = sql.Open("sqlite", full); err != nil {
		w.Close()
		return nil, nil, err
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	return w, r, w.Ping()
}

func (sqliteDialect) Rebind(q string) string { return q }

func (sqliteDialect) DDL(stmt string) string {
	// {{clustered}}: tables keyed by their primary key store rows in key order, so a
	// range scan reads no second b-tree.
	return strings.NewReplacer("{{id}}", "INTEGER PRIMARY KEY AUTOINCREMENT", "{{blob}}", "BLOB", "{{clustered}}", "WITHOUT ROWID", "{{path}}", "TEXT").Replace(stmt)
}

func (sqliteDialect) IsDuplicate(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// LockMigrations needs no lock: SQLite has one writer connection.
func (sqliteDialect) LockMigrations(ctx context.Context, conn *sql.Conn) (func(), error) {
	return func() {}, nil
}
