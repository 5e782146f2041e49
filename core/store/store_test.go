package store

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/filegate/filegate/core/store/storetest"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// eachDriver runs test once per store driver available (storetest.Drivers).
func eachDriver(t *testing.T, test func(t *testing.T, driver string)) {
	for _, d := range storetest.Drivers() {
		t.Run(d, func(t *testing.T) { test(t, d) })
	}
}

func openTest(t *testing.T, driver string) (*Store, string) {
	t.Helper()
	dsn := storetest.DSN(t, driver)
	s, err := Open(context.Background(), driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dsn
}

func treePaths(t *testing.T, s *Store, tenant int64, dir string) string {
	t.Helper()
	var out []string
	if err := s.Tree(context.Background(), tenant, dir, func(e TreeEntry) error {
		out = append(out, e.Path+":"+e.Type)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, " ")
}

func TestEventsMaintainTheTree(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		s, _ := openTest(t, driver)
		ctx := context.Background()
		t1, _ := s.CreateTenant(ctx, "one", "default", "/")
		t2, _ := s.CreateTenant(ctx, "two", "default", "/two")
		rec := func(tenant int64, typ, p, from string, isDir bool) {
			t.Helper()
			if err := s.Record(ctx, tenant, hostapi.Event{Type: typ, Path: p, From: from, IsDir: isDir, Protocol: "sftp", Account: "cam", Size: 3, SHA256: "abc"}); err != nil {
				t.Fatal(err)
			}
		}
		rec(t1.ID, hostapi.EventFileUploaded, "/a/b/c.txt", "", false)
		rec(t1.ID, hostapi.EventFileUploaded, "/a/b0.txt", "", false) // sorts right after "/a/b/"'s range
		rec(t1.ID, hostapi.EventDirCreated, "/z", "", true)
		rec(t2.ID, hostapi.EventFileUploaded, "/a/other.txt", "", false)
		if got := treePaths(t, s, t1.ID, "/"); got != "/a:dir /a/b:dir /a/b/c.txt:file /a/b0.txt:file /z:dir" {
			t.Fatalf("tree = %s", got)
		}
		if got := treePaths(t, s, t1.ID, "/a/b"); got != "/a/b/c.txt:file" {
			t.Fatalf("subtree = %s", got)
		}
		rec(t1.ID, hostapi.EventFileMoved, "/z/b", "/a/b", true)
		if got := treePaths(t, s, t1.ID, "/"); got != "/a:dir /a/b0.txt:file /z:dir /z/b:dir /z/b/c.txt:file" {
			t.Fatalf("after moving a folder: %s", got)
		}
		rec(t1.ID, hostapi.EventDirDeleted, "/z", "", true)
		if got := treePaths(t, s, t1.ID, "/"); got != "/a:dir /a/b0.txt:file" {
			t.Fatalf("after deleting a folder: %s", got)
		}
		if got := treePaths(t, s, t2.ID, "/"); got != "/a:dir /a/other.txt:file" {
			t.Fatalf("tenant two's tree = %s", got)
		}
		evs, total, err := s.Events(ctx, t1.ID, EventFilter{Limit: 2, Path: "/a/"})
		if err != nil || total != 2 || len(evs) != 2 || evs[0].Path != "/a/b0.txt" {
			t.Fatalf("events under /a/: %d %+v %v", total, evs, err)
		}
		evs, total, _ = s.Events(ctx, t2.ID, EventFilter{Limit: 10})
		if total != 1 || evs[0].Path != "/a/other.txt" {
			t.Fatalf("tenant two sees %d events", total)
		}
	})
}

func TestMigrationsApplyOnceAndRefuseNewerSchema(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		s, path := openTest(t, driver)
		ctx := context.Background()
		s.CreateTenant(ctx, "one", "default", "/")
		s.Close()
		s2, err := Open(ctx, driver, path)
		if err != nil {
			t.Fatalf("reopening: %v", err)
		}
		ts, _ := s2.Tenants(ctx)
		if len(ts) != 1 {
			t.Fatalf("data lost on reopen: %d tenants", len(ts))
		}
		s2.exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, len(migrations)+1)
		s2.Close()
		if _, err := Open(ctx, driver, path); err == nil || !strings.Contains(err.Error(), "upgrade filegate") {
			t.Fatalf("newer schema: %v", err)
		}
	})
}

func TestDuplicatesAndNotFound(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		s, _ := openTest(t, driver)
		ctx := context.Background()
		t1, _ := s.CreateTenant(ctx, "one", "default", "/")
		t2, _ := s.CreateTenant(ctx, "two", "default", "/two")
		if _, err := s.CreateFTPAccount(ctx, FTPAccount{TenantID: t1.ID, Username: "u", AccessRights: "RW", Chroot: "/"}); err != nil {
			t.Fatal(err)
		}
		// A login names no tenant, so usernames are unique across tenants.
		if _, err := s.CreateFTPAccount(ctx, FTPAccount{TenantID: t2.ID, Username: "u", AccessRights: "RW", Chroot: "/"}); !errors.Is(err, ErrDuplicate) {
			t.Fatalf("duplicate username in another tenant: %v", err)
		}
		if _, err := s.FTPAccount(ctx, t2.ID, 1); !errors.Is(err, ErrNotFound) {
			t.Fatalf("another tenant's account: %v", err)
		}
		if err := s.DeleteFTPAccount(ctx, t2.ID, 1); !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleting another tenant's account: %v", err)
		}
		k1, err := s.SigningKey(ctx)
		k2, _ := s.SigningKey(ctx)
		if err != nil || len(k1) != 32 || string(k1) != string(k2) {
			t.Fatal("the signing key is not stable")
		}
	})
}

// TestConcurrentMigrations starts several nodes on one empty database at once: each
// migration is applied exactly once and every node opens.
func TestConcurrentMigrations(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		dsn := storetest.DSN(t, driver)
		ctx := context.Background()
		errs := make(chan error, 4)
		for range 4 {
			go func() {
				s, err := Open(ctx, driver, dsn)
				if err == nil {
					s.Close()
				}
				errs <- err
			}()
		}
		for range 4 {
			if err := <-errs; err != nil {
				t.Fatalf("a node failed to open: %v", err)
			}
		}
		s, err := Open(ctx, driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var n int
		s.queryRow(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n)
		if n != len(migrations) {
			t.Fatalf("%d migration rows, want %d", n, len(migrations))
		}
	})
}
