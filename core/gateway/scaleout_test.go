package gateway_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/filegate/filegate/core/gateway/gatewaytest"
	"github.com/filegate/filegate/core/store/storetest"
)

// TestNodesShareOnePostgreSQL runs two gateway nodes on one PostgreSQL database and one
// shared storage folder: a token from node A works on node B, a revocation on A is
// refused on B at once, and a file uploaded through A is listed, downloaded and logged
// through B, and a zip prepared on A downloads from B.
func TestNodesShareOnePostgreSQL(t *testing.T) {
	dsn := storetest.DSN(t, "postgres") // skips without FILEGATE_TEST_POSTGRES
	shared := t.TempDir()
	text := fmt.Sprintf("[store]\ndriver = \"postgres\"\ndsn = %q\n[[storage]]\nname = \"default\"\nplugin = \"local\"\nconfig = { root = %q }\n", dsn, shared)
	a := gatewaytest.Start(t, text, nil)
	b := gatewaytest.Start(t, text, nil)
	if b.SecretKey != "" || b.AssociationKey != a.AssociationKey {
		t.Fatalf("node B initialised a second tenant: %q vs %q", b.AssociationKey, a.AssociationKey)
	}
	admin := a.Token()
	if s := b.Do("GET", "/ftpaccounts/list", admin, nil, nil); s != 200 {
		t.Fatalf("node A's token on node B: %d", s)
	}
	var key struct{ AccessKey, SecretKey string }
	if s := a.Do("POST", "/apiaccounts", admin, map[string]any{"Scopes": []string{"file.list"}}, &key); s != 201 {
		t.Fatalf("create key: %d", s)
	}
	tok := b.Auth(a.AssociationKey, key.AccessKey, key.SecretKey)
	if s := b.Do("GET", "/api/list/files", tok, nil, nil); s != 200 {
		t.Fatalf("key from A authenticated on B: %d", s)
	}
	if s := a.Do("DELETE", "/apiaccounts/"+key.AccessKey, admin, nil, nil); s != 200 {
		t.Fatalf("revoke on A: %d", s)
	}
	if s := b.Do("GET", "/api/list/files", tok, nil, nil); s != 401 {
		t.Fatalf("revoked on A, still accepted on B: %d", s)
	}
	if s := a.Do("POST", "/api/mkdir", admin, map[string]string{"path": "/from-a"}, nil); s != 200 {
		t.Fatalf("mkdir on A: %d", s)
	}
	os.WriteFile(filepath.Join(shared, "from-a", "x.txt"), []byte("x"), 0o644)
	var files struct{ Data []struct{ Name string } }
	b.Do("GET", "/api/list/files?path=/from-a", admin, nil, &files)
	if len(files.Data) != 1 || files.Data[0].Name != "x.txt" {
		t.Fatalf("node B lists %+v", files.Data)
	}
	var prep struct{ ID string }
	if s := a.Do("POST", "/api/download/multi", admin, map[string]any{"paths": []string{"/from-a"}}, &prep); s != 200 {
		t.Fatalf("prepare a zip on A: %d", s)
	}
	resp := b.Request("GET", "/api/download/multi/"+prep.ID, "", nil)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("zip prepared on A, fetched from B: %s", resp.Status)
	}
	var evs struct{ Total int }
	b.Do("GET", "/events?type=dir.created&path=/from-a", admin, nil, &evs)
	if evs.Total != 1 {
		t.Fatalf("node B sees %d dir.created events from A", evs.Total)
	}
}
