package plugin

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/filegate/filegate/core/plugin/wasmtest"
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/local"
	"github.com/filegate/filegate/plugins/storage/memory"
	"github.com/filegate/filegate/sdk"
)

// storageGuests are the memory storage plugin as a .wasm module and an executable,
// and the local one as an executable, built on first use.
var storageGuests struct {
	once                 sync.Once
	err                  error
	memWASM, memExe, loc string
}

func buildStorageGuests(t testing.TB) {
	t.Helper()
	g := &storageGuests
	g.once.Do(func() {
		g.memWASM = filepath.Join(guests.dir, "memory.wasm")
		g.memExe = filepath.Join(guests.dir, "memory")
		g.loc = filepath.Join(guests.dir, "local")
		g.err = errors.Join(
			wasmtest.BuildWASM(g.memWASM, "../../plugins/storage/memory/plugin"),
			wasmtest.BuildExe(g.memExe, "../../plugins/storage/memory/plugin"),
			wasmtest.BuildExe(g.loc, "../../plugins/storage/local/plugin"),
		)
		if g.err == nil {
			g.err = wasmtest.Precompile(g.memWASM)
		}
	})
	if g.err != nil {
		t.Fatalf("building the storage plugins: %v", g.err)
	}
}

// builtinStorages are the builtin storage plugins of these tests.
func builtinStorages(name string) (hostapi.Plugin, bool) {
	switch name {
	case "memory":
		return sdk.Storage(hostapi.Manifest{Name: "memory"}, memory.Open), true
	case "local":
		return sdk.Storage(hostapi.Manifest{Name: "local"}, local.Open), true
	}
	return nil, false
}

func openStorage(t testing.TB, plugin string, config map[string]any, limits Limits) *Plugin {
	t.Helper()
	p, err := LoadStorage(context.Background(), Options{Name: "store", Plugin: plugin, Config: config,
		Builtin: builtinStorages, CacheDir: guests.cache, Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

// putFile writes and commits a file in one write.
func putFile(ctx context.Context, s hostapi.Storage, name string, data []byte) error {
	return writeChunked(ctx, s, name, data, max(len(data), 1))
}

func TestLoadStorageRefusals(t *testing.T) {
	buildStorageGuests(t)
	ctx := context.Background()
	// A storage plugin is not a rule.
	if _, err := Load(ctx, testOptions(t, storageGuests.memExe)); err == nil || !strings.Contains(err.Error(), "[[storage]]") {
		t.Errorf("Load of a storage plugin: %v", err)
	}
	// A rule is not a storage plugin.
	if _, err := LoadStorage(ctx, testOptions(t, guests.native)); err == nil || !strings.Contains(err.Error(), "rule plugin") {
		t.Errorf("LoadStorage of a rule plugin: %v", err)
	}
	// A config the plugin's schema refuses fails the load, naming the key.
	_, err := LoadStorage(ctx, Options{Name: "bad", Plugin: storageGuests.loc, Config: map[string]any{"rot": "/tmp"}})
	if err == nil || !strings.Contains(err.Error(), `missing required key "root"`) || !strings.Contains(err.Error(), `unknown key "rot"`) {
		t.Errorf("LoadStorage with a bad config: %v", err)
	}
	// One the schema admits but the backend refuses fails it too, with its message.
	_, err = LoadStorage(ctx, Options{Name: "bad", Plugin: storageGuests.loc, Config: map[string]any{"root": t.TempDir(), "sync": "always"}})
	if err == nil || !strings.Contains(err.Error(), `config key "sync" is always`) {
		t.Errorf("LoadStorage with a config the backend refuses: %v", err)
	}
}

// TestStorageOptionalCalls: the host offers Chtimer and Sweeper only when the plugin
// serves them, and errors keep their meaning across the transport.
func TestStorageOptionalCalls(t *testing.T) {
	buildStorageGuests(t)
	mem := openStorage(t, storageGuests.memExe, nil, Limits{}).Storage()
	if _, ok := mem.(hostapi.Chtimer); !ok {
		t.Error("memory plugin: no Chtimer")
	}
	if _, ok := mem.(hostapi.Sweeper); ok {
		t.Error("memory plugin: a Sweeper, but memory has no SweepTemp")
	}
	loc := openStorage(t, storageGuests.loc, map[string]any{"root": t.TempDir()}, Limits{}).Storage()
	sw, ok := loc.(hostapi.Sweeper)
	if !ok {
		t.Fatal("local plugin: no Sweeper")
	}
	if _, err := sw.SweepTemp(context.Background()); err != nil {
		t.Errorf("SweepTemp: %v", err)
	}
	_, err := loc.Stat(context.Background(), "/missing")
	var herr *hostapi.Error
	if !errors.Is(err, hostapi.ErrNotExist) || !errors.As(err, &herr) {
		t.Errorf("Stat of a missing file: %v (%T), want ErrNotExist across the transport", err, err)
	}
}

// TestStorageProcessKilled kills a storage plugin process during an upload and a
// read: both fail with an error saying the plugin is gone, nothing half-written is
// committed, and the next calls run on a restarted process.
func TestStorageProcessKilled(t *testing.T) {
	buildStorageGuests(t)
	ctx := context.Background()
	root := t.TempDir()
	p := openStorage(t, storageGuests.loc, map[string]any{"root": root}, Limits{})
	s := p.Storage()
	big := bytes.Repeat([]byte("0123456789abcdef"), 256<<10) // 4 MiB
	if err := putFile(ctx, s, "/big", big); err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(ctx, "/big", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := io.ReadFull(r, make([]byte, 300<<10)); err != nil {
		t.Fatal(err)
	}
	up, err := s.Create(ctx, "/half")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.Write(big[:3<<20]); err != nil {
		t.Fatal(err)
	}

	pid := p.conn.(*process).client.ReattachConfig().Pid
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let go-plugin notice

	if _, err := up.Write(big[:2<<20]); err == nil {
		t.Error("a write after the plugin died succeeded")
	}
	if err := up.Commit(ctx); err == nil {
		t.Error("Commit after the plugin died succeeded")
	} else {
		t.Logf("Commit after the kill: %v", err)
	}
	if err := up.Abort(); err != nil {
		t.Errorf("Abort after the plugin died: %v", err)
	}
	if _, err := io.ReadAll(r); err == nil {
		t.Error("reading on after the plugin died succeeded")
	} else if !strings.Contains(err.Error(), "restarted") && !strings.Contains(err.Error(), "plugin process") {
		t.Errorf("read error %q does not say the plugin went away", err)
	}

	// The next calls start a new process; nothing half-written is visible.
	if _, err := s.Stat(ctx, "/half"); !errors.Is(err, hostapi.ErrNotExist) {
		t.Errorf("Stat(/half) after the crash: %v, want ErrNotExist", err)
	}
	if newPid := p.conn.(*process).client.ReattachConfig().Pid; newPid == pid {
		t.Errorf("the plugin process was not restarted (pid %d)", pid)
	}
	if err := putFile(ctx, s, "/after", []byte("fine")); err != nil {
		t.Fatalf("upload after the restart: %v", err)
	}
	r2, err := s.Open(ctx, "/big", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r2)
	r2.Close()
	if err != nil || !bytes.Equal(got, big[1<<20:]) {
		t.Errorf("read after the restart: %d bytes, %v", len(got), err)
	}
}

// TestStorageCancelKeepsPlugin: a caller that gives up does not take the plugin (and
// every other caller's uploads) down with it.
func TestStorageCancelKeepsPlugin(t *testing.T) {
	buildStorageGuests(t)
	for _, plugin := range []string{storageGuests.memWASM, storageGuests.memExe} {
		t.Run(filepath.Base(plugin), func(t *testing.T) {
			s := openStorage(t, plugin, nil, Limits{}).Storage()
			bg := context.Background()
			up, err := s.Create(bg, "/kept")
			if err != nil {
				t.Fatal(err)
			}
			up.Write([]byte("still here"))
			ctx, cancel := context.WithCancel(bg)
			cancel()
			if _, err := s.Stat(ctx, "/"); !errors.Is(err, context.Canceled) {
				t.Errorf("Stat with a cancelled context: %v", err)
			}
			// Cancellations that land while calls run, at varying points.
			for i := range 200 {
				ctx, cancel := context.WithCancel(bg)
				time.AfterFunc(time.Duration(i%20)*time.Microsecond, cancel)
				s.List(ctx, "/", hostapi.ListOptions{})
				cancel()
			}
			if err := up.Commit(bg); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			if fi, err := s.Stat(bg, "/kept"); err != nil || fi.Size != 10 {
				t.Errorf("Stat = %+v, %v", fi, err)
			}
		})
	}
}
