// Package wasmtest helps tests that load plugins: it builds Go plugin packages to
// .wasm modules and executables, and fills a wazero compilation cache from a process
// built without -race, so that loading a module in a race-enabled test takes
// milliseconds instead of the ten-odd seconds wazero's instrumented compiler needs.
package wasmtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
)

// CacheDir is a compilation cache shared by the test runs of this machine (wazero
// keys it by module content and wazero version).
func CacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "filegate", "wazero-test")
}

// BuildWASM builds the Go package pkg (a path go build accepts) as a WASM plugin at out.
func BuildWASM(out, pkg string, flags ...string) error {
	args := append([]string{"build", "-buildmode=c-shared", "-o", out}, flags...)
	return goCmd(append(args, pkg), "GOOS=wasip1", "GOARCH=wasm")
}

// BuildExe builds the Go package pkg as a plugin executable at out.
func BuildExe(out, pkg string, flags ...string) error {
	args := append([]string{"build", "-o", out}, flags...)
	return goCmd(append(args, pkg))
}

// Precompile compiles the modules into CacheDir in a process without -race. wazero
// stamps cache entries with its version as the running binary reports it, and a test
// binary reports none ("dev"), so the precompiler is linked to report the caller's.
func Precompile(files ...string) error {
	ldflags := "-ldflags=-X github.com/tetratelabs/wazero/internal/version.version=" + wazeroVersion()
	args := []string{"run", ldflags, "github.com/filegate/filegate/core/plugin/precompile", "-cache", CacheDir()}
	return goCmd(append(args, files...))
}

// wazeroVersion is the version wazero's cache uses in this binary.
func wazeroVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/tetratelabs/wazero" && dep.Version != "" && dep.Version != "(devel)" {
				return dep.Version
			}
		}
	}
	return "dev"
}

func goCmd(args []string, env ...string) error {
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env, "GOFLAGS=") // no -race for the builds and the precompiler
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %v: %w\n%s", args, err, out)
	}
	return nil
}
