package plugin

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/filegate/filegate/core/plugin/wasmtest"
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/memory"
)

// guests are the test plugins TestMain builds once per test binary.
var guests struct {
	dir                                 string
	hostile, hostileV2, garbage, native string
	nativeV11                           string // hostile declaring host API 1.1, as a plugin built before 1.2 does
	cache                               string
}

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "filegate-plugin-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	guests.dir = dir
	guests.hostile = filepath.Join(dir, "hostile.wasm")
	guests.hostileV2 = filepath.Join(dir, "hostile-v2.wasm")
	guests.garbage = filepath.Join(dir, "garbage.wasm")
	guests.native = filepath.Join(dir, "hostile")
	guests.nativeV11 = filepath.Join(dir, "hostile-v11")
	guests.cache = wasmtest.CacheDir()
	builds := []error{
		wasmtest.BuildWASM(guests.hostile, "./testdata/hostile"),
		wasmtest.BuildWASM(guests.hostileV2, "./testdata/hostile", "-ldflags=-X main.apiVersion=2.0"),
		wasmtest.BuildWASM(guests.garbage, "./testdata/garbage"),
		wasmtest.BuildExe(guests.native, "./testdata/hostile"),
		wasmtest.BuildExe(guests.nativeV11, "./testdata/hostile", "-ldflags=-X main.apiVersion=1.1"),
		wasmtest.Precompile(guests.hostile, guests.hostileV2, guests.garbage),
	}
	for _, err := range builds {
		if err != nil {
			fmt.Fprintln(os.Stderr, "building the test plugins:", err)
			return 1
		}
	}
	return m.Run()
}

// testOptions are Options for a test plugin with a memory "default" backend.
func testOptions(t testing.TB, plugin string, allow ...string) Options {
	t.Helper()
	def, err := memory.Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	return Options{
		Name:     "test",
		Plugin:   plugin,
		Allow:    allow,
		Storage:  func(name string) (hostapi.Storage, bool) { return def, name == "default" },
		KV:       &MemoryKV{},
		CacheDir: guests.cache,
	}
}

func mustLoad(t testing.TB, opts Options) *Plugin {
	t.Helper()
	p, err := Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

func event(path string) hostapi.Event {
	return hostapi.Event{ID: 1, Type: hostapi.EventFileUploaded, Path: path, Account: "alice", SHA256: "abc"}
}
