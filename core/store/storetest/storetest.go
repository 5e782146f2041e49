// Package storetest gives tests a fresh, empty database of each store driver.
//
// SQLite is always available. PostgreSQL is used when FILEGATE_TEST_POSTGRES holds the
// URL of a server the tests may create databases on (.ci/postgres.sh starts one);
// FILEGATE_TEST_STORE=postgres makes it the store of every test gateway.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// Drivers lists the drivers to test: "sqlite", and "postgres" when a server is given.
func Drivers() []string {
	if os.Getenv("FILEGATE_TEST_POSTGRES") != "" {
		return []string{"sqlite", "postgres"}
	}
	return []string{"sqlite"}
}

// Default is the driver test gateways use: FILEGATE_TEST_STORE, or "sqlite".
func Default() string {
	if d := os.Getenv("FILEGATE_TEST_STORE"); d != "" {
		return d
	}
	return "sqlite"
}

// DSN returns the data source of a new empty database for driver, removed when the
// test ends. For postgres without FILEGATE_TEST_POSTGRES the test is skipped.
func DSN(t testing.TB, driver string) string {
	t.Helper()
	if driver != "postgres" {
		return filepath.Join(t.TempDir(), "filegate.db")
	}
	admin := os.Getenv("FILEGATE_TEST_POSTGRES")
	if admin == "" {
		t.Skip("FILEGATE_TEST_POSTGRES is not set: no PostgreSQL server to test against (.ci/postgres.sh starts one)")
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("FILEGATE_TEST_POSTGRES: %v", err)
	}
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "filegate_test_" + hex.EncodeToString(b[:])
	if _, err := db.ExecContext(context.Background(), `CREATE DATABASE `+name); err != nil {
		db.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		db.ExecContext(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
		db.Close()
	})
	u.Path = "/" + name
	return u.String()
}
