package plugintest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/filegate/filegate/conformance/testservers"
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

// freshLocal gives each case of a local storage plugin a new root folder.
func freshLocal(t *testing.T) func(hostapi.Manifest) (map[string]any, error) {
	return func(m hostapi.Manifest) (map[string]any, error) {
		return map[string]any{"root": t.TempDir()}, nil
	}
}

// TestStorage runs the storage cases on the first-party storage backends as builtin,
// wasm and process plugins (the ones .ci/build-plugins.sh builds).
func TestStorage(t *testing.T) {
	for _, name := range []string{"memory", "local"} {
		t.Run("builtin/"+name, func(t *testing.T) {
			opts := Options{Plugin: name, Kind: hostapi.KindStorage, Builtin: builtin.Storage}
			if name == "local" {
				opts.StorageConfig = freshLocal(t)
			}
			check(t, opts)
		})
	}
	dir := pluginsDir(t)
	wasm := filepath.Join(dir, "memory.wasm")
	if err := wasmtest.Precompile(wasm); err != nil {
		t.Fatal(err)
	}
	t.Run("wasm/memory", func(t *testing.T) {
		check(t, Options{Plugin: wasm, CacheDir: wasmtest.CacheDir()})
	})
	t.Run("process/memory", func(t *testing.T) {
		check(t, Options{Plugin: filepath.Join(dir, "memory")})
	})
	t.Run("process/local", func(t *testing.T) {
		check(t, Options{Plugin: filepath.Join(dir, "local"), StorageConfig: freshLocal(t)})
	})
}

// prefixes gives each case of an object-storage plugin a new key prefix.
func prefixes(config func(prefix string) map[string]any) func(hostapi.Manifest) (map[string]any, error) {
	var n atomic.Int64
	return func(hostapi.Manifest) (map[string]any, error) {
		return config(fmt.Sprintf("case-%d", n.Add(1))), nil
	}
}

// TestStorageS3Process runs the storage cases on the s3 plugin executable against
// versitygw.
func TestStorageS3Process(t *testing.T) {
	exe := filepath.Join(pluginsDir(t), "s3")
	s3 := testservers.Versitygw(t)
	check(t, Options{Plugin: exe, StorageConfig: prefixes(s3.Config)})
}

// TestStorageAzureProcess runs the storage cases on the azureblob plugin executable
// against Azurite.
func TestStorageAzureProcess(t *testing.T) {
	exe := filepath.Join(pluginsDir(t), "azureblob")
	az := testservers.Azurite(t)
	check(t, Options{Plugin: exe, StorageConfig: prefixes(az.Config)})
}
