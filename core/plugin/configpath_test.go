package plugin

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestConfigPathResolved: a relative value of a key the manifest declares as
// hostapi.ConfigPath reaches the plugin joined to Options.ConfigDir (the folder of
// gateway.toml), so the local backend as an executable opens the same root as the
// builtin one; an absolute value, and keys of other types, arrive unchanged.
func TestConfigPathResolved(t *testing.T) {
	buildStorageGuests(t)
	ctx := context.Background()
	confDir, other := t.TempDir(), t.TempDir()
	// The plugin process runs in the test's working directory, not confDir: without
	// the resolution "files" would land there.
	p, err := LoadStorage(ctx, Options{Name: "store", Plugin: storageGuests.loc, ConfigDir: confDir,
		Config: map[string]any{"root": "files", "sync": "none"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	if err := putFile(ctx, p.Storage(), "/a.txt", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(confDir, "files", "a.txt")); err != nil || string(b) != "hello" {
		t.Fatalf("file under the config folder: %q, %v", b, err)
	}
	if _, err := os.Stat("files"); err == nil {
		os.RemoveAll("files")
		t.Fatal("the plugin created its root in the working directory")
	}

	abs := filepath.Join(other, "abs")
	got := resolvePaths(p.Manifest().Config, map[string]any{"root": abs, "sync": "none"}, confDir)
	if want := map[string]any{"root": abs, "sync": "none"}; !reflect.DeepEqual(got, want) {
		t.Errorf("absolute root: %v, want %v", got, want)
	}
	in := map[string]any{"root": "rel"}
	if got := resolvePaths(p.Manifest().Config, in, ""); got["root"] != "rel" || in["root"] != "rel" {
		t.Errorf("no ConfigDir: %v (caller's table %v), want root unchanged", got, in)
	}
	if got := resolvePaths(p.Manifest().Config, in, confDir); got["root"] != filepath.Join(confDir, "rel") || in["root"] != "rel" {
		t.Errorf("relative root: %v (caller's table %v)", got, in)
	}
}
