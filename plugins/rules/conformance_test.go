package rules_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/filegate/filegate/conformance/plugintest"
	"github.com/filegate/filegate/core/builtin"
	"github.com/filegate/filegate/core/plugin/wasmtest"
)

// configs are the rules' config tables for the kit. The kit gives one memory backend,
// "default": the mirror copies into a folder of it. The webhook's url is left to the
// kit, which points it at its HTTP sink.
var configs = map[string]map[string]any{
	"webhook":   {"secret": "k"},
	"retention": {"max_age": "1h", "keep_last": 3},
	"mirror":    {"target": "default", "prefix": "/mirror", "delete": true},
}

func check(t *testing.T, opts plugintest.Options) {
	t.Helper()
	failed := plugintest.Run(context.Background(), opts, func(r plugintest.Result) {
		if r.Err != nil {
			t.Errorf("%s: %v", r.Case, r.Err)
		}
	})
	if failed > 0 {
		t.Fatalf("%d cases failed", failed)
	}
}

// pluginsDir is where .ci/build-plugins.sh puts the rule plugins built from
// plugins/rules/*/plugin; the test skips when they are not built.
func pluginsDir(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", ".ci", "cache", "plugins")
	for name := range configs {
		for _, f := range []string{name + ".wasm", name} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Skipf("first-party rule plugins not built (run .ci/build-plugins.sh): %v", err)
			}
		}
	}
	return dir
}

// TestConformance runs the plugin conformance kit on the first-party rule plugins in
// the builtin transport (linked in, as core/builtin serves them).
func TestConformance(t *testing.T) {
	for name, cfg := range configs {
		t.Run(name, func(t *testing.T) {
			check(t, plugintest.Options{Plugin: name, Config: cfg, Builtin: builtin.Rule})
		})
	}
}

// TestConformanceBuilt runs the kit on the same rules built by .ci/build-plugins.sh,
// as sandboxed .wasm modules and as go-plugin executables.
func TestConformanceBuilt(t *testing.T) {
	dir := pluginsDir(t)
	var mods []string
	for name := range configs {
		mods = append(mods, filepath.Join(dir, name+".wasm"))
	}
	if err := wasmtest.Precompile(mods...); err != nil {
		t.Fatal(err)
	}
	for name, cfg := range configs {
		t.Run("wasm/"+name, func(t *testing.T) {
			check(t, plugintest.Options{Plugin: filepath.Join(dir, name+".wasm"), Config: cfg, CacheDir: wasmtest.CacheDir()})
		})
		t.Run("process/"+name, func(t *testing.T) {
			check(t, plugintest.Options{Plugin: filepath.Join(dir, name), Config: cfg})
		})
	}
}
