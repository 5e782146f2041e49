package plugintest

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/filegate/filegate/core/builtin"
	"github.com/filegate/filegate/core/plugin/wasmtest"
	"github.com/filegate/filegate/examples/chat"
	"github.com/filegate/filegate/examples/route"
	"github.com/filegate/filegate/examples/sidecar"
	"github.com/filegate/filegate/examples/uploadpolicy"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

var examples = map[string]hostapi.Plugin{
	"route": route.Rule{}, "sidecar": sidecar.Rule{}, "chat": chat.Rule{}, "uploadpolicy": uploadpolicy.Policy{},
}

// pluginsDir is where .ci/build-plugins.sh puts the example plugins.
func pluginsDir(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", ".ci", "cache", "plugins")
	if _, err := os.Stat(filepath.Join(dir, "route.wasm")); err != nil {
		t.Skipf("example plugins not built (run .ci/build-plugins.sh): %v", err)
	}
	return dir
}

func check(t *testing.T, opts Options) {
	t.Helper()
	failed := Run(context.Background(), opts, func(r Result) {
		if r.Err != nil {
			t.Errorf("%s: %v", r.Case, r.Err)
		}
	})
	if failed > 0 {
		t.Fatalf("%d cases failed", failed)
	}
}

// TestExamples runs the kit on every example plugin in every transport.
func TestExamples(t *testing.T) {
	for name := range examples {
		t.Run("builtin/"+name, func(t *testing.T) {
			check(t, Options{Plugin: name, Builtin: func(n string) (hostapi.Plugin, bool) {
				p, ok := examples[n]
				return p, ok
			}})
		})
	}
	dir := pluginsDir(t)
	var mods []string
	for name := range examples {
		mods = append(mods, filepath.Join(dir, name+".wasm"))
	}
	if err := wasmtest.Precompile(mods...); err != nil {
		t.Fatal(err)
	}
	for name := range examples {
		t.Run("wasm/"+name, func(t *testing.T) {
			check(t, Options{Plugin: filepath.Join(dir, name+".wasm"), CacheDir: wasmtest.CacheDir()})
		})
		t.Run("process/"+name, func(t *testing.T) {
			check(t, Options{Plugin: filepath.Join(dir, name)})
		})
	}
}

func TestStorage(t *testing.T) {
	check(t, Options{Plugin: "memory", Kind: hostapi.KindStorage, OpenStorage: builtin.OpenStorage})
}
