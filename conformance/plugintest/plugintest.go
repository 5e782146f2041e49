// Package plugintest is the plugin conformance kit: it loads a plugin by any transport
// and runs the cases of its kind — manifest and version handshake, every method with
// valid and invalid input, capability enforcement, deadlines, concurrency — and, for
// storage plugins, the storagetest cases. `filegate plugin test` prints its results.
//
// The kit gives rule and auth plugins a memory backend named "default" (seeded with the
// files its events name), a key-value store, and an HTTP sink on 127.0.0.1 that
// answers 200; a required config key "url" (or ending in "_url") that the caller does
// not set points at the sink.
package plugintest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/filegate/filegate/conformance/storagetest"
	"github.com/filegate/filegate/core/plugin"
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/memory"
)

// Result is the outcome of one case.
type Result struct {
	Case string
	Err  error // nil when the case passed
}

// Options say what to test.
type Options struct {
	Plugin string         // a builtin name, a .wasm path or an executable path
	Kind   hostapi.Kind   // "" takes the manifest's; required for builtin storage plugins
	Config map[string]any // the plugin's config table
	Allow  []string       // extra grants; the manifest's wanted ones are always given
	// Builtin resolves builtin names (core/builtin's Rule, Auth or Storage).
	Builtin func(name string) (hostapi.Plugin, bool)
	// StorageConfig returns the config table of a fresh, empty backend of the storage
	// plugin m describes, called once per storage case (a new temporary folder, a new
	// key prefix); nil uses Config for every case.
	StorageConfig func(m hostapi.Manifest) (map[string]any, error)
	CacheDir      string // wazero compilation cache
}

// Run runs every case and reports each; report is called as each case ends. It
// returns the number of failed cases.
func Run(ctx context.Context, opts Options, report func(Result)) int {
	failed := 0
	emit := func(r Result) {
		if r.Err != nil {
			failed++
		}
		report(r)
	}
	if opts.Kind == "" && plugin.TransportOf(opts.Plugin) != plugin.Builtin {
		m, err := plugin.Inspect(ctx, plugin.Options{Name: "conformance", Plugin: opts.Plugin, CacheDir: opts.CacheDir})
		if err != nil {
			emit(Result{"load", err})
			return failed
		}
		opts.Kind = m.Kind
	}
	if opts.Kind == hostapi.KindStorage {
		runStorage(ctx, opts, emit)
		return failed
	}
	k, err := newKit(ctx, opts)
	if err != nil {
		emit(Result{"load", err})
		return failed
	}
	defer k.close()
	emit(Result{"load", nil})
	for _, c := range k.cases() {
		emit(Result{c.name, k.guard(c.run)})
	}
	return failed
}

// runStorage runs the storage cases: the manifest, opening the backend, a call past
// its deadline, and every storagetest case on a freshly loaded plugin with a fresh
// backend.
func runStorage(ctx context.Context, opts Options, emit func(Result)) {
	base := plugin.Options{Name: "conformance", Plugin: opts.Plugin, Kind: hostapi.KindStorage, Builtin: opts.Builtin,
		CacheDir: opts.CacheDir, Allow: opts.Allow}
	m, err := plugin.Inspect(ctx, base)
	emit(Result{"load", err})
	if err != nil {
		return
	}
	emit(Result{"manifest", checkManifest(m)})
	load := func() (*plugin.Plugin, error) {
		o := base
		o.Config = opts.Config
		if opts.StorageConfig != nil {
			cfg, err := opts.StorageConfig(m)
			if err != nil {
				return nil, fmt.Errorf("config of a fresh backend: %w", err)
			}
			o.Config = cfg
		}
		return plugin.LoadStorage(ctx, o)
	}
	// A backend that cannot open (a bad config, an unreachable server) fails every
	// case alike: say so once.
	if err := withStorage(load, func(*plugin.Plugin) error { return nil }); err != nil {
		emit(Result{"open", err})
		return
	}
	emit(Result{"storage/deadline", withStorage(load, func(p *plugin.Plugin) error { return storageDeadline(ctx, p) })})
	for _, c := range storagetest.Cases() {
		emit(Result{"storage/" + c.Name, withStorage(load, func(p *plugin.Plugin) error {
			return storagetest.Check(ctx, c, p.Storage())
		})})
	}
}

// withStorage loads a storage plugin, runs f on it and closes it.
func withStorage(load func() (*plugin.Plugin, error), f func(*plugin.Plugin) error) error {
	p, err := load()
	if err != nil {
		return err
	}
	defer p.Close(context.Background())
	return f(p)
}

// storageDeadline calls with a context already past its deadline: the call must fail
// (unless the storage is builtin, called directly), and the plugin must answer the
// next one.
func storageDeadline(ctx context.Context, p *plugin.Plugin) error {
	late, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	_, err := p.Storage().Stat(late, "/")
	if p.Transport() != plugin.Builtin && err == nil {
		return errors.New("a call past its deadline succeeded")
	}
	if _, err := p.Storage().Stat(ctx, "/"); err != nil {
		return fmt.Errorf("the plugin no longer answers: %w", err)
	}
	return nil
}

type kit struct {
	ctx     context.Context
	opts    Options
	p       *plugin.Plugin
	backend hostapi.Storage
	sink    *httptest.Server
}

func newKit(ctx context.Context, opts Options) (*kit, error) {
	k := &kit{ctx: ctx, opts: opts}
	k.sink = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	var err error
	if k.backend, err = memory.Open(nil); err != nil {
		return nil, err
	}
	// Load once to read the manifest, then again with its wanted grants and config.
	m, err := plugin.Inspect(ctx, k.options(nil, nil))
	if err != nil {
		k.sink.Close()
		return nil, err
	}
	cfg := map[string]any{}
	for key, v := range opts.Config {
		cfg[key] = v
	}
	for _, f := range m.Config {
		if _, ok := cfg[f.Name]; !ok && f.Required && f.Type == hostapi.ConfigString &&
			(f.Name == "url" || strings.HasSuffix(f.Name, "_url")) {
			cfg[f.Name] = k.sink.URL + "/hook"
		}
	}
	k.opts.Config = cfg
	allow := append(append([]string{"log", "kv", "storage:default", "http:127.0.0.1"}, m.Capabilities...), opts.Allow...)
	var grants []string
	for _, c := range allow {
		if _, _, ok := hostapi.ParseCapability(c); ok {
			grants = append(grants, c)
		}
	}
	k.opts.Allow = grants
	if k.p, err = k.load(grants, cfg); err != nil {
		k.sink.Close()
		return nil, err
	}
	return k, nil
}

func (k *kit) load(allow []string, cfg map[string]any) (*plugin.Plugin, error) {
	return plugin.Load(k.ctx, k.options(allow, cfg))
}

func (k *kit) options(allow []string, cfg map[string]any) plugin.Options {
	return plugin.Options{
		Name: "conformance", Plugin: k.opts.Plugin, Kind: k.opts.Kind, Allow: allow, Config: cfg,
		Builtin: k.opts.Builtin, KV: &plugin.MemoryKV{}, CacheDir: k.opts.CacheDir,
		Storage: func(name string) (hostapi.Storage, bool) { return k.backend, name == "default" },
	}
}

func (k *kit) close() {
	k.p.Close(context.Background())
	k.sink.Close()
}

// guard runs one case, turning a panic into a failure.
func (k *kit) guard(run func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return run()
}

type kase struct {
	name string
	run  func() error
}

func (k *kit) cases() []kase {
	cs := []kase{{"manifest", k.manifest}}
	switch k.p.Manifest().Kind {
	case hostapi.KindRule:
		cs = append(cs,
			kase{"rule/OnEvent valid", k.eventsValid},
			kase{"rule/OnEvent invalid", k.eventsInvalid},
			kase{"rule/OnSchedule", func() error { return k.p.OnSchedule(k.ctx, hostapi.Run{Rule: "conformance", Time: time.Now()}) }},
		)
	case hostapi.KindAuth:
		cs = append(cs,
			kase{"auth/Authenticate", k.authenticate},
			kase{"auth/Authorize valid", k.authorizeValid},
			kase{"auth/Authorize invalid", k.authorizeInvalid},
		)
	}
	return append(cs,
		kase{"capabilities enforced", k.capabilities},
		kase{"deadline", k.deadline},
		kase{"concurrency", k.concurrency},
	)
}

func (k *kit) manifest() error { return checkManifest(k.p.Manifest()) }

// checkManifest checks what every plugin's manifest must say.
func checkManifest(m hostapi.Manifest) error {
	switch {
	case m.Name == "":
		return errors.New("manifest has no name")
	case !hostapi.Compatible(hostapi.Version, m.APIVersion):
		return fmt.Errorf("manifest API version %q is not served by host API %s", m.APIVersion, hostapi.Version)
	}
	for _, c := range m.Capabilities {
		if _, _, ok := hostapi.ParseCapability(c); !ok {
			return fmt.Errorf("manifest wants %q, which is not a capability", c)
		}
	}
	return nil
}

// seeded returns an event of type typ on path, with the file created in the backend.
func (k *kit) seeded(typ, p string) (hostapi.Event, error) {
	ev := hostapi.Event{ID: time.Now().UnixNano(), Time: time.Now().UTC(), Type: typ, Protocol: "sftp",
		Account: "conformance", Path: p, Size: 5, SHA256: strings.Repeat("0", 64), RemoteAddr: "127.0.0.1:2222"}
	if typ == hostapi.EventFileUploaded {
		dir := p[:strings.LastIndex(p, "/")]
		if dir != "" {
			if err := k.backend.Mkdir(k.ctx, dir); err != nil && !errors.Is(err, hostapi.ErrExist) {
				return ev, err
			}
		}
		up, err := k.backend.Create(k.ctx, p)
		if err != nil {
			return ev, err
		}
		up.Write([]byte("hello"))
		if err := up.Commit(k.ctx); err != nil {
			return ev, err
		}
	}
	return ev, nil
}

func (k *kit) eventsValid() error {
	var errs []error
	for i, typ := range hostapi.EventTypes {
		ev, err := k.seeded(typ, fmt.Sprintf("/incoming/INV-2026-%03d.pdf", i))
		if err != nil {
			return fmt.Errorf("seeding the backend: %w", err)
		}
		if err := k.p.OnEvent(k.ctx, ev); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", typ, err))
		}
	}
	return errors.Join(errs...)
}

// eventsInvalid sends events no front end would produce: the plugin may refuse them,
// but must answer, and must still work afterwards.
func (k *kit) eventsInvalid() error {
	for _, ev := range []hostapi.Event{
		{}, {Type: "no.such.type", Path: "/x"}, {Type: hostapi.EventFileUploaded, Path: "relative/../../x"},
		{Type: hostapi.EventFileUploaded, Path: "/" + strings.Repeat("n", 5000), Size: -1},
	} {
		_ = k.p.OnEvent(k.ctx, ev) // an error is a fine answer
	}
	return k.stillWorks()
}

func (k *kit) stillWorks() error {
	switch k.p.Manifest().Kind {
	case hostapi.KindRule:
		err := k.p.OnSchedule(k.ctx, hostapi.Run{Rule: "conformance", Time: time.Now()})
		if err != nil {
			return fmt.Errorf("the plugin no longer answers: %w", err)
		}
	case hostapi.KindAuth:
		if _, err := k.p.Authenticate(k.ctx, hostapi.Login{Protocol: "ftp", Username: "u", Password: "p"}); err != nil {
			return fmt.Errorf("the plugin no longer answers: %w", err)
		}
	}
	return nil
}

func (k *kit) authenticate() error {
	for _, l := range []hostapi.Login{
		{Protocol: "ftp", Username: "alice", Password: "secret", RemoteAddr: "127.0.0.1:5000"},
		{Protocol: "sftp", Username: "bob", PublicKey: []byte("ssh-ed25519 AAAA"), RemoteAddr: "[::1]:5000"},
	} {
		res, err := k.p.Authenticate(k.ctx, l)
		if err != nil {
			return err
		}
		if res.Verdict > hostapi.VerdictDeny {
			return fmt.Errorf("verdict %d is not a verdict", res.Verdict)
		}
		if r := res.AccessRights; r != "" && r != "R" && r != "W" && r != "RW" {
			return fmt.Errorf("AccessRights override %q, want R, W or RW", r)
		}
	}
	return nil
}

func (k *kit) authorizeValid() error {
	for _, a := range []string{hostapi.ActionUpload, hostapi.ActionDownload, hostapi.ActionDelete,
		hostapi.ActionRename, hostapi.ActionMkdir, hostapi.ActionList} {
		dec, err := k.p.Authorize(k.ctx, hostapi.Operation{Protocol: "http", Account: "alice", Action: a,
			Path: "/in/report.pdf", To: "/in/report-2.pdf", Size: 1024})
		if err != nil {
			return fmt.Errorf("%s: %w", a, err)
		}
		if !dec.Allow && dec.Reason == "" {
			return fmt.Errorf("%s refused without a reason (the client would see none)", a)
		}
	}
	return nil
}

func (k *kit) authorizeInvalid() error {
	for _, op := range []hostapi.Operation{{}, {Action: "explode", Path: "/x"}, {Action: hostapi.ActionUpload, Size: -5}} {
		_, _ = k.p.Authorize(k.ctx, op)
	}
	return k.stillWorks()
}

// capabilities loads the plugin with no grants: a call may succeed without host calls,
// or fail, but then only with ErrNotGranted.
func (k *kit) capabilities() error {
	p, err := k.load(nil, k.opts.Config)
	if err != nil {
		return err
	}
	defer p.Close(k.ctx)
	switch p.Manifest().Kind {
	case hostapi.KindRule:
		ev, err := k.seeded(hostapi.EventFileUploaded, "/incoming/INV-2026-999.pdf")
		if err != nil {
			return err
		}
		err = p.OnEvent(k.ctx, ev)
		if err != nil && !errors.Is(err, hostapi.ErrNotGranted) {
			return fmt.Errorf("without grants, OnEvent failed with %v, not ErrNotGranted", err)
		}
	case hostapi.KindAuth:
		_, err := p.Authorize(k.ctx, hostapi.Operation{Action: hostapi.ActionUpload, Path: "/x.pdf", Account: "a"})
		if err != nil && !errors.Is(err, hostapi.ErrNotGranted) {
			return fmt.Errorf("without grants, Authorize failed with %v, not ErrNotGranted", err)
		}
	}
	return nil
}

// deadline calls with a context already past its deadline: the call must fail, and
// the plugin must answer the next one.
func (k *kit) deadline() error {
	ctx, cancel := context.WithDeadline(k.ctx, time.Now().Add(-time.Second))
	defer cancel()
	var err error
	switch k.p.Manifest().Kind {
	case hostapi.KindRule:
		err = k.p.OnSchedule(ctx, hostapi.Run{Rule: "conformance"})
	case hostapi.KindAuth:
		_, err = k.p.Authenticate(ctx, hostapi.Login{Protocol: "ftp", Username: "u"})
	}
	if k.p.Transport() != plugin.Builtin && err == nil {
		return errors.New("a call past its deadline succeeded")
	}
	return k.stillWorks()
}

func (k *kit) concurrency() error {
	const n = 32
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = k.stillWorks()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
