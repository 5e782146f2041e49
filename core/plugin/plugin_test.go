package plugin

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// TestHostileWASM runs each misbehaviour in a wasm plugin: each fails only its own
// call, with an error that says what happened, while calls on other instances go on.
func TestHostileWASM(t *testing.T) {
	opts := testOptions(t, guests.hostile, "kv", "storage:default")
	opts.Limits = Limits{CallTimeout: 2 * time.Second, MemoryBytes: 128 << 20, Instances: 2}
	p := mustLoad(t, opts)

	// Calls that keep succeeding while the hostile ones run.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var good, bad int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := p.OnEvent(context.Background(), event("/ok")); err != nil {
				bad++
			} else {
				good++
			}
		}
	}()

	cases := []struct{ path, want string }{
		{"/loop", "deadline"},
		{"/alloc", "out of memory"},
		{"/stack", ""}, // out of memory, or the deadline while Go copies its growing stack
		{"/panic", "panicked in OnEvent: boom"},
		{"/exit", "exited with code 3"},
		{"/forbidden", `needs the grant "storage:archive"`},
	}
	for _, c := range cases {
		t.Run(strings.TrimPrefix(c.path, "/"), func(t *testing.T) {
			err := p.OnEvent(context.Background(), event(c.path))
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "OnEvent") {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
			t.Log(err)
			if err := p.OnEvent(context.Background(), event("/ok")); err != nil {
				t.Fatalf("the next call failed: %v", err)
			}
		})
	}
	close(stop)
	wg.Wait()
	// The endless loop holds one of the two instances for its whole deadline; the
	// other serves the good calls. A replaced instance may not be ready at once, so
	// a few failures while waiting are not counted: none should happen at all.
	if bad > 0 || good == 0 {
		t.Errorf("concurrent good calls: %d ok, %d failed", good, bad)
	}
	if err := p.OnEvent(context.Background(), event("/forbidden")); !errors.Is(err, hostapi.ErrNotGranted) {
		t.Errorf("forbidden call: %v does not match ErrNotGranted", err)
	}
}

func TestHostCallsWASM(t *testing.T) {
	opts := testOptions(t, guests.hostile, "kv", "storage:default")
	p := mustLoad(t, opts)
	ctx := context.Background()
	for _, path := range []string{"/kv", "/write"} {
		if err := p.OnEvent(ctx, event(path)); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	def, _ := opts.Storage("default")
	fi, err := def.Stat(ctx, "/out/alice")
	if err != nil || fi.Size != 3 {
		t.Fatalf("written file: %+v, %v", fi, err)
	}
	// Without the grants, the same calls fail naming them.
	p2 := mustLoad(t, testOptions(t, guests.hostile))
	for path, grant := range map[string]string{"/kv": `"kv"`, "/write": `"storage:default"`} {
		err := p2.OnEvent(ctx, event(path))
		if !errors.Is(err, hostapi.ErrNotGranted) || !strings.Contains(err.Error(), grant) {
			t.Errorf("%s without grant: %v", path, err)
		}
	}
}

func TestVersionRefused(t *testing.T) {
	_, err := Load(context.Background(), testOptions(t, guests.hostileV2))
	if err == nil || !strings.Contains(err.Error(), `host API "2.0"`) || !strings.Contains(err.Error(), "host API "+hostapi.Version) {
		t.Fatalf("err = %v, want one naming both versions", err)
	}
}

func TestGarbageABI(t *testing.T) {
	p := mustLoad(t, testOptions(t, guests.garbage))
	ev := event("/x")
	ev.ID = 0
	err := p.OnEvent(context.Background(), ev)
	if err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("garbage response: %v", err)
	}
	ev.ID = 1
	err = p.OnEvent(context.Background(), ev)
	if err == nil || !strings.Contains(err.Error(), "outside the module's memory") {
		t.Fatalf("out-of-range response: %v", err)
	}
	t.Log(err)
}

func TestNotAPlugin(t *testing.T) {
	_, err := Load(context.Background(), testOptions(t, "testdata/missing.wasm"))
	if err == nil || !strings.Contains(err.Error(), "missing.wasm") {
		t.Fatalf("missing file: %v", err)
	}
	_, err = Load(context.Background(), testOptions(t, "nosuch"))
	if err == nil || !strings.Contains(err.Error(), `no builtin plugin named "nosuch"`) {
		t.Fatalf("unknown builtin: %v", err)
	}
	_, err = Load(context.Background(), testOptions(t, guests.hostile, "storage"))
	if err == nil || !strings.Contains(err.Error(), `"storage" is not a capability`) {
		t.Fatalf("bad grant: %v", err)
	}
}

func TestProcessRestart(t *testing.T) {
	opts := testOptions(t, guests.native, "kv")
	opts.Limits.CallTimeout = time.Second
	p := mustLoad(t, opts)
	ctx := context.Background()
	if err := p.OnEvent(ctx, event("/kv")); err != nil {
		t.Fatal(err)
	}
	if err := p.OnEvent(ctx, event("/exit")); err == nil {
		t.Fatal("exit: no error")
	}
	if err := p.OnEvent(ctx, event("/ok")); err != nil { // first restart is immediate
		t.Fatalf("after a crash: %v", err)
	}
	err := p.OnEvent(ctx, event("/loop"))
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("endless loop: %v", err)
	}
	if err := p.OnEvent(ctx, event("/ok")); err != nil {
		t.Fatalf("after a timeout: %v", err)
	}
	err = p.OnEvent(ctx, event("/forbidden"))
	if !errors.Is(err, hostapi.ErrNotGranted) {
		t.Fatalf("forbidden: %v", err)
	}
}

// echoRule is a builtin rule for the tests.
type echoRule struct{}

func (echoRule) Manifest() hostapi.Manifest {
	return hostapi.Manifest{Name: "echo", Kind: hostapi.KindRule,
		Config: []hostapi.ConfigField{{Name: "n", Type: hostapi.ConfigInt, Required: true}}}
}
func (echoRule) OnEvent(ctx context.Context, h hostapi.Host, ev hostapi.Event) error {
	if ev.Path == "/panic" {
		panic("boom")
	}
	return h.Log(ctx, hostapi.LevelInfo, ev.Path)
}
func (echoRule) OnSchedule(context.Context, hostapi.Host, hostapi.Run) error { return nil }

func builtins(name string) (hostapi.Plugin, bool) { return echoRule{}, name == "echo" }

func TestBuiltin(t *testing.T) {
	opts := testOptions(t, "echo", "log")
	opts.Builtin = builtins
	if _, err := Load(context.Background(), opts); err == nil || !strings.Contains(err.Error(), `missing required key "n"`) {
		t.Fatalf("config schema: %v", err)
	}
	opts.Config = map[string]any{"n": int64(3), "extra": true}
	if _, err := Load(context.Background(), opts); err == nil || !strings.Contains(err.Error(), `unknown key "extra"`) {
		t.Fatalf("config schema: %v", err)
	}
	delete(opts.Config, "extra")
	p := mustLoad(t, opts)
	if err := p.OnEvent(context.Background(), event("/x")); err != nil {
		t.Fatal(err)
	}
	if err := p.OnEvent(context.Background(), event("/panic")); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("panic: %v", err)
	}
	if _, err := p.Authorize(context.Background(), hostapi.Operation{}); !errors.Is(err, hostapi.ErrUnimplemented) {
		t.Fatalf("Authorize on a rule: %v", err)
	}
	opts.Kind = hostapi.KindAuth
	if _, err := Load(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "where a auth plugin") {
		t.Fatalf("kind: %v", err)
	}
}

// TestWASMRequestBuffer sends requests that fit the instance's fg_buffer buffer, outgrow
// it and fit again: each must arrive whole (the hostile guest's /kv case echoes the
// account through the key-value store).
func TestWASMRequestBuffer(t *testing.T) {
	opts := testOptions(t, guests.hostile, hostapi.CapKV)
	opts.Limits.Instances = 1
	p := mustLoad(t, opts)
	for _, n := range []int{10, 60 << 10, 1 << 10, 9 << 10, 3} {
		ev := event("/kv")
		ev.Account = strings.Repeat("a", n-1) + "z"
		if err := p.OnEvent(context.Background(), ev); err != nil {
			t.Fatalf("a %d-byte account: %v", n, err)
		}
		v, found, _ := opts.KV.Get(context.Background(), "test", "k")
		if !found || string(v) != ev.Account {
			t.Fatalf("a %d-byte account arrived as %d bytes (found %v)", n, len(v), found)
		}
	}
}
