// Package plugin loads and runs Filegate plugins over their three transports: builtin
// (a Go value linked into the gateway, called directly), wasm (a .wasm module run by
// wazero, sandboxed, in a bounded pool of instances) and process (an executable served
// by hashicorp/go-plugin). Load picks the transport from the `plugin` value in
// gateway.toml, checks the plugin's manifest and host API version, and binds it to a
// host whose every call is checked against the operator's grants.
package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/hostapi/v1/wire"
)

// Transport is how a plugin runs.
type Transport string

// The transports.
const (
	Builtin Transport = "builtin"
	WASM    Transport = "wasm"
	Process Transport = "process"
)

// TransportOf tells the transport gateway.toml's plugin value selects: a path ending
// in .wasm is wasm, any other path (containing a slash) is process, a bare name is
// builtin.
func TransportOf(plugin string) Transport {
	switch {
	case strings.HasSuffix(plugin, ".wasm"):
		return WASM
	case strings.ContainsAny(plugin, `/\`):
		return Process
	}
	return Builtin
}

// Options says what to load and what the plugin may do.
type Options struct {
	Name   string       // the rule's (or plugin's) name in gateway.toml, for errors, logs and KV
	Plugin string       // gateway.toml's plugin value: a builtin name, a .wasm path, an executable path
	Kind   hostapi.Kind // the kind the caller expects; "" accepts rule and auth
	Allow  []string     // the operator's grants
	Config map[string]any
	// ConfigDir is the folder of gateway.toml: a relative value of a key the plugin's
	// manifest declares as hostapi.ConfigPath is resolved against it, as the gateway
	// resolves the builtin backends' paths. "" leaves such values as they are.
	ConfigDir string

	// Builtin returns the builtin plugin called name; nil means none are linked.
	Builtin func(name string) (hostapi.Plugin, bool)
	// Storage returns the storage backend called name for the storage host calls.
	Storage func(name string) (hostapi.Storage, bool)
	// KV backs the key-value host calls; nil makes them fail.
	KV KV
	// HTTPClient makes the outbound HTTP host calls; nil means a client with a 30 s timeout.
	HTTPClient *http.Client
	// Logger receives the plugin's log lines and the runtime's reports; nil discards.
	Logger *slog.Logger
	// Clock is the host's now(); nil means time.Now.
	Clock func() time.Time
	// CacheDir keeps compiled wasm modules across restarts; "" compiles every time.
	CacheDir string
	Limits   Limits
}

// Limits bound what one plugin may use.
type Limits struct {
	CallTimeout time.Duration // per call; default 10 s
	MemoryBytes uint64        // per wasm instance; default 256 MiB
	Instances   int           // wasm instances at most (calls running at once); default GOMAXPROCS
}

func (l Limits) withDefaults() Limits {
	if l.CallTimeout <= 0 {
		l.CallTimeout = 10 * time.Second
	}
	if l.MemoryBytes == 0 {
		l.MemoryBytes = 256 << 20
	}
	if l.Instances <= 0 {
		l.Instances = runtime.GOMAXPROCS(0)
	}
	return l
}

// Plugin is a loaded plugin bound to its grants. It is safe for concurrent use; the
// methods of a kind the plugin is not fail with hostapi.ErrUnimplemented.
type Plugin struct {
	name      string
	transport Transport
	manifest  hostapi.Manifest
	impl      hostapi.Plugin  // the builtin value, or a wire client
	storage   hostapi.Storage // the open backend of a storage plugin (LoadStorage)
	host      *host
	conn      remoteConn // the wasm or process transport; nil for builtin
	timeout   time.Duration
	close     func(context.Context) error
}

// closer is a transport that holds resources.
type closer interface{ Close(context.Context) error }

// remoteConn is a wasm or process transport.
type remoteConn interface {
	wire.Conn
	closer
}

// Load loads the plugin opts names. The error says what to fix: an unknown builtin, a
// missing file, an incompatible host API version (naming both), a kind mismatch, a
// config table that does not match the plugin's schema, a malformed allow list.
func Load(ctx context.Context, opts Options) (*Plugin, error) {
	p, err := load(ctx, opts, loadRuleAuth)
	if err != nil {
		return nil, fmt.Errorf("plugin %q (%s): %w", opts.Name, opts.Plugin, err)
	}
	return p, nil
}

// Inspect loads the plugin only to read its manifest, without checking opts.Config
// against the plugin's config schema (so a tool can learn the schema first).
func Inspect(ctx context.Context, opts Options) (hostapi.Manifest, error) {
	p, err := load(ctx, opts, loadInspect)
	if err != nil {
		return hostapi.Manifest{}, fmt.Errorf("plugin %q (%s): %w", opts.Name, opts.Plugin, err)
	}
	defer p.Close(ctx)
	return p.manifest, nil
}

// LoadStorage loads the storage plugin opts names and opens its backend with
// opts.Config; Storage returns the backend. A builtin storage plugin's backend is the
// plugin's own value, called directly; a wasm or process one is a client of the
// plugin's storage methods (hostapi/v1/ABI.md), each call under the per-call deadline,
// that implements hostapi.Chtimer and hostapi.Sweeper only when the plugin does.
//
// A wasm storage plugin runs in a single instance (its open files, and any state it
// keeps, live in that instance's memory), so its calls run one at a time. When a
// plugin process dies or a wasm instance is replaced, the calls in flight fail and the
// reads and uploads opened before fail on their next call: nothing half-written is
// committed.
func LoadStorage(ctx context.Context, opts Options) (*Plugin, error) {
	opts.Kind = hostapi.KindStorage
	p, err := load(ctx, opts, loadStorage)
	if err != nil {
		return nil, fmt.Errorf("plugin %q (%s): %w", opts.Name, opts.Plugin, err)
	}
	return p, nil
}

// loadMode says what load is for.
type loadMode int

const (
	loadRuleAuth loadMode = iota // Load: a rule or auth plugin, config checked
	loadStorage                  // LoadStorage: a storage plugin, config checked, backend opened
	loadInspect                  // Inspect: any kind, config unchecked
)

func load(ctx context.Context, opts Options, mode loadMode) (*Plugin, error) {
	g, err := parseGrants(opts.Allow)
	if err != nil {
		return nil, err
	}
	limits := opts.Limits.withDefaults()
	if mode == loadStorage {
		limits.Instances = 1 // a wasm storage plugin's handles live in its instance
	}
	// h.config is set once the manifest is known (its path keys are resolved then):
	// the host serves no call before that.
	h := &host{name: opts.Name, grants: g, storage: opts.Storage, kv: opts.KV,
		http: opts.HTTPClient, log: opts.Logger, now: opts.Clock}
	if h.http == nil {
		h.http = &http.Client{Timeout: 30 * time.Second}
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	p := &Plugin{name: opts.Name, transport: TransportOf(opts.Plugin), host: h, timeout: limits.CallTimeout,
		close: func(context.Context) error { return nil }}

	var conn remoteConn
	switch p.transport {
	case Builtin:
		impl, ok := lookupBuiltin(opts.Builtin, opts.Plugin)
		if !ok {
			return nil, fmt.Errorf("no builtin plugin named %q (a .wasm file or an executable path loads an external one)", opts.Plugin)
		}
		p.impl, p.manifest = impl, impl.Manifest()
		if p.manifest.APIVersion == "" {
			p.manifest.APIVersion = hostapi.Version
		}
	case WASM:
		conn, err = newWASM(ctx, opts.Plugin, opts.CacheDir, limits, h.log.With("plugin", opts.Name))
	case Process:
		conn, err = newProcess(opts.Plugin, h.log.With("plugin", opts.Name))
	}
	if err != nil {
		return nil, err
	}
	if conn != nil {
		p.conn, p.close = conn, conn.Close
		mctx, cancel := context.WithTimeout(ctx, p.timeout)
		p.manifest, err = wire.ReadManifest(mctx, conn)
		cancel()
		if err != nil {
			conn.Close(ctx)
			return nil, fmt.Errorf("reading the manifest: %w", err)
		}
	}
	if err := p.check(opts, mode); err != nil {
		p.close(ctx)
		return nil, err
	}
	cfg := resolvePaths(p.manifest.Config, opts.Config, opts.ConfigDir)
	if h.config, err = json.Marshal(cfg); err != nil {
		p.close(ctx)
		return nil, fmt.Errorf("config: %w", err)
	}
	if conn != nil {
		switch p.manifest.Kind {
		case hostapi.KindRule:
			p.impl = wire.NewRule(conn, p.manifest)
		case hostapi.KindAuth:
			p.impl = wire.NewAuth(conn, p.manifest)
		}
	}
	if mode == loadStorage {
		if err := p.openStorage(ctx, conn, cfg); err != nil {
			p.close(ctx)
			return nil, err
		}
	}
	if missing := p.MissingGrants(); len(missing) > 0 {
		h.log.Warn("plugin wants capabilities it was not granted; calls needing them will fail",
			"plugin", opts.Name, "missing", missing)
	}
	return p, nil
}

func lookupBuiltin(f func(string) (hostapi.Plugin, bool), name string) (hostapi.Plugin, bool) {
	if f == nil {
		return nil, false
	}
	return f(name)
}

// check refuses a plugin the host cannot serve as configured.
func (p *Plugin) check(opts Options, mode loadMode) error {
	m := p.manifest
	if !hostapi.Compatible(hostapi.Version, m.APIVersion) {
		return fmt.Errorf("built for host API %q, but this gateway serves host API %s: rebuild it with the sdk of host API v%s",
			m.APIVersion, hostapi.Version, strings.SplitN(hostapi.Version, ".", 2)[0])
	}
	switch {
	case m.Kind != hostapi.KindRule && m.Kind != hostapi.KindAuth && m.Kind != hostapi.KindStorage:
		return fmt.Errorf("manifest declares kind %q: want rule, auth or storage", m.Kind)
	case mode == loadRuleAuth && m.Kind == hostapi.KindStorage:
		return errors.New("is a storage plugin: only rule and auth plugins load here (storage plugins go in [[storage]])")
	case opts.Kind != "" && m.Kind != opts.Kind:
		return fmt.Errorf("is a %s plugin, but is configured where a %s plugin is expected", m.Kind, opts.Kind)
	}
	if p.transport == Builtin {
		var ok bool
		switch m.Kind {
		case hostapi.KindRule:
			_, ok = p.impl.(hostapi.Rule)
		case hostapi.KindAuth:
			_, ok = p.impl.(hostapi.Auth)
		case hostapi.KindStorage:
			_, ok = p.impl.(hostapi.StoragePlugin)
		}
		if !ok {
			return fmt.Errorf("declares kind %s but does not implement its interface", m.Kind)
		}
	}
	if mode == loadInspect {
		return nil
	}
	return checkConfig(m.Config, opts.Config)
}

// resolvePaths returns cfg (never nil) with the relative values of the keys schema
// declares as hostapi.ConfigPath joined to dir. It copies cfg rather than changing the
// caller's table.
func resolvePaths(schema []hostapi.ConfigField, cfg map[string]any, dir string) map[string]any {
	out := make(map[string]any, len(cfg))
	maps.Copy(out, cfg)
	if dir == "" {
		return out
	}
	for _, f := range schema {
		if f.Type != hostapi.ConfigPath {
			continue
		}
		if p, ok := out[f.Name].(string); ok && p != "" && !filepath.IsAbs(p) {
			out[f.Name] = filepath.Join(dir, p)
		}
	}
	return out
}

// checkConfig checks a config table against a plugin's schema.
func checkConfig(schema []hostapi.ConfigField, cfg map[string]any) error {
	if len(schema) == 0 {
		return nil
	}
	var errs []error
	known := map[string]bool{}
	for _, f := range schema {
		known[f.Name] = true
		v, ok := cfg[f.Name]
		if !ok {
			if f.Required {
				errs = append(errs, fmt.Errorf("config: missing required key %q (%s)", f.Name, f.Doc))
			}
			continue
		}
		if !typeMatches(f.Type, v) {
			errs = append(errs, fmt.Errorf("config: key %q must be a %s, not %T (%s)", f.Name, f.Type, v, f.Doc))
		}
	}
	for k := range cfg {
		if !known[k] {
			errs = append(errs, fmt.Errorf("config: unknown key %q", k))
		}
	}
	return errors.Join(errs...)
}

func typeMatches(t hostapi.ConfigType, v any) bool {
	switch t {
	case hostapi.ConfigString, hostapi.ConfigPath:
		_, ok := v.(string)
		return ok
	case hostapi.ConfigDuration:
		s, ok := v.(string)
		if !ok {
			return false
		}
		_, err := time.ParseDuration(s)
		return err == nil
	case hostapi.ConfigInt:
		switch n := v.(type) {
		case int, int64:
			return true
		case float64:
			return n == float64(int64(n))
		}
		return false
	case hostapi.ConfigBool:
		_, ok := v.(bool)
		return ok
	case hostapi.ConfigStrings:
		switch l := v.(type) {
		case []string:
			return true
		case []any:
			for _, e := range l {
				if _, ok := e.(string); !ok {
					return false
				}
			}
			return true
		}
		return false
	}
	return true // a type this host does not know: leave it to the plugin
}

// Name is the plugin's name in gateway.toml.
func (p *Plugin) Name() string { return p.name }

// Transport is how the plugin runs.
func (p *Plugin) Transport() Transport { return p.transport }

// Manifest is what the plugin said about itself at load.
func (p *Plugin) Manifest() hostapi.Manifest { return p.manifest }

// MissingGrants lists the capabilities the manifest wants that allow does not grant.
func (p *Plugin) MissingGrants() []string {
	var missing []string
	for _, c := range p.manifest.Capabilities {
		if !p.host.grants.has(c) {
			missing = append(missing, c)
		}
	}
	return missing
}

// Close stops the plugin's instances or process.
func (p *Plugin) Close(ctx context.Context) error { return p.close(ctx) }

// OnEvent runs a rule plugin on one event.
func (p *Plugin) OnEvent(ctx context.Context, ev hostapi.Event) error {
	r, err := as[hostapi.Rule](p, "OnEvent")
	if err != nil {
		return err
	}
	return p.do(ctx, "OnEvent", func(ctx context.Context) error { return r.OnEvent(ctx, p.host, ev) })
}

// OnSchedule runs a rule plugin's scheduled run.
func (p *Plugin) OnSchedule(ctx context.Context, run hostapi.Run) error {
	r, err := as[hostapi.Rule](p, "OnSchedule")
	if err != nil {
		return err
	}
	return p.do(ctx, "OnSchedule", func(ctx context.Context) error { return r.OnSchedule(ctx, p.host, run) })
}

// Authenticate asks an auth plugin about one login.
func (p *Plugin) Authenticate(ctx context.Context, login hostapi.Login) (hostapi.LoginResult, error) {
	a, err := as[hostapi.Auth](p, "Authenticate")
	if err != nil {
		return hostapi.LoginResult{}, err
	}
	var res hostapi.LoginResult
	err = p.do(ctx, "Authenticate", func(ctx context.Context) (err error) {
		res, err = a.Authenticate(ctx, p.host, login)
		return err
	})
	return res, err
}

// Authorize asks an auth plugin about one operation.
func (p *Plugin) Authorize(ctx context.Context, op hostapi.Operation) (hostapi.Decision, error) {
	a, err := as[hostapi.Auth](p, "Authorize")
	if err != nil {
		return hostapi.Decision{}, err
	}
	var dec hostapi.Decision
	err = p.do(ctx, "Authorize", func(ctx context.Context) (err error) {
		dec, err = a.Authorize(ctx, p.host, op)
		return err
	})
	return dec, err
}

func as[T any](p *Plugin, method string) (T, error) {
	v, ok := p.impl.(T)
	if !ok {
		return v, fmt.Errorf("plugin %q is a %s plugin and has no %s: %w", p.name, p.manifest.Kind, method, hostapi.ErrUnimplemented)
	}
	return v, nil
}

// do runs one call under the plugin's deadline and names the plugin in its error.
func (p *Plugin) do(ctx context.Context, method string, f func(context.Context) error) (err error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	if err := ctx.Err(); err != nil {
		// Do not start a call that is already late: a fast plugin could otherwise
		// answer before the transport notices the deadline.
		return fmt.Errorf("plugin %q (%s) %s: %w", p.name, p.transport, method, err)
	}
	if p.transport == Builtin {
		defer func() {
			if v := recover(); v != nil {
				err = fmt.Errorf("plugin %q (builtin) %s panicked: %v", p.name, method, v)
			}
		}()
	}
	if err := f(ctx); err != nil {
		return fmt.Errorf("plugin %q (%s) %s: %w", p.name, p.transport, method, err)
	}
	return nil
}
