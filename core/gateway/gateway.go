package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/filegate/filegate/core/accounts"
	"github.com/filegate/filegate/core/auth"
	"github.com/filegate/filegate/core/builtin"
	"github.com/filegate/filegate/core/config"
	"github.com/filegate/filegate/core/console"
	"github.com/filegate/filegate/core/guard"
	"github.com/filegate/filegate/core/httpapi"
	"github.com/filegate/filegate/core/plugin"
	"github.com/filegate/filegate/core/rules"
	"github.com/filegate/filegate/core/store"
	"github.com/filegate/filegate/core/vfs"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// Gateway is one running Filegate node.
type Gateway struct {
	Config   *config.Config
	Store    *store.Store
	Accounts *accounts.Service
	Guard    *guard.Guard
	Log      *slog.Logger

	backends       map[string]hostapi.Storage
	storagePlugins []*plugin.Plugin // the [[storage]] backends served by wasm or process plugins
	rootTenant     map[string]int64 // backend → the first tenant with its root at "/"
	rules          *rules.Engine
	auth           *authChain // the [[auth]] plugins
	api            *httpapi.API

	mu    sync.Mutex
	addrs map[string]net.Addr // listener name → bound address, once Run has bound it
}

// Open opens the store and the storage backends cfg names. The data directory must have
// been prepared (Prepare or Init).
func Open(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Gateway, error) {
	if log == nil {
		log = slog.Default()
	}
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	g := &Gateway{Config: cfg, Store: st, Log: log, backends: map[string]hostapi.Storage{}, addrs: map[string]net.Addr{}}
	if err := g.openBackends(ctx); err != nil {
		g.closeBackends(ctx)
		st.Close()
		return nil, err
	}
	// Upload parts spooled by a previous run that stopped mid-request are garbage.
	os.RemoveAll(filepath.Join(cfg.DataPath(), "spool"))
	key, err := st.SigningKey(ctx)
	if err != nil {
		g.closeBackends(ctx)
		st.Close()
		return nil, err
	}
	g.Accounts = &accounts.Service{Store: st, Tokens: auth.NewTokens(key, cfg.HTTP.TokenTTL.D()), EnsureDir: g.ensureDir,
		Passwords: auth.NewPasswordCache(cfg.Security.PasswordCache.D())}
	sec := cfg.Security
	g.Guard = guard.New(sec.BanThreshold, sec.BanWindow.D(), sec.BanTime.D())
	g.Guard.OnBan = g.banned
	if err := g.openAuth(ctx); err != nil {
		g.closeBackends(ctx)
		st.Close()
		return nil, err
	}
	if err := g.openRules(ctx); err != nil {
		g.auth.close(ctx)
		g.closeBackends(ctx)
		st.Close()
		return nil, err
	}
	g.api = httpapi.New(httpapi.Options{
		Accounts: g.Accounts, Store: st, Log: log.With("component", "http"),
		RateLimit: cfg.HTTP.RateLimit, RateWindow: cfg.HTTP.RateWindow.D(), MaxJSONBody: int64(cfg.HTTP.MaxJSONBody), MaxUpload: int64(cfg.HTTP.MaxUpload), SpoolDir: filepath.Join(cfg.DataPath(), "spool"),
		Files: g, Guard: g.Guard,
		Fallback: console.Handler(), Status: g.status, Rules: g.rules,
	})
	return g, nil
}

func (g *Gateway) openBackends(ctx context.Context) error {
	specs := g.Config.Storage
	if len(specs) == 0 {
		specs = []config.Storage{{Name: "default", Plugin: "local", Config: map[string]any{"root": filepath.Join(g.Config.DataPath(), "storage")}}}
	}
	for _, s := range specs {
		cfg := s.Config
		if s.Plugin == "local" {
			cfg = resolveRoot(g.Config, cfg)
		}
		b, err := g.openBackend(ctx, s, cfg)
		if err != nil {
			return fmt.Errorf("storage %q: %w", s.Name, err)
		}
		if sw, ok := b.(hostapi.Sweeper); ok {
			n, err := sw.SweepTemp(ctx)
			if err != nil {
				g.Log.Warn("sweeping unfinished uploads", "storage", s.Name, "err", err)
			} else if n > 0 {
				g.Log.Info("removed unfinished uploads of a previous run", "storage", s.Name, "count", n)
			}
		}
		g.backends[s.Name] = b
	}
	if g.backends["default"] == nil {
		return errors.New("config: no [[storage]] is named \"default\": the tenant's primary storage must be")
	}
	return nil
}

// openBackend opens one [[storage]] backend: a builtin one directly, a .wasm module or
// an executable (see plugin.TransportOf) as a storage plugin, whose path is relative to
// the config file and which the gateway stops when Run returns. cfg is s.Config with
// relative paths resolved.
func (g *Gateway) openBackend(ctx context.Context, s config.Storage, cfg map[string]any) (hostapi.Storage, error) {
	if plugin.TransportOf(s.Plugin) == plugin.Builtin {
		return builtin.OpenStorage(s.Plugin, cfg)
	}
	p, err := plugin.LoadStorage(ctx, plugin.Options{
		Name: s.Name, Plugin: g.Config.Resolve(s.Plugin), Config: cfg,
		ConfigDir: filepath.Dir(g.Config.Path()), // for the plugin's path keys, as resolveRoot for the builtin local
		Limits:    plugin.Limits{CallTimeout: s.Timeout.D()},
		Logger:    g.Log.With("storage", s.Name),
		CacheDir:  filepath.Join(g.Config.DataPath(), "plugin-cache"),
	})
	if err != nil {
		return nil, err
	}
	g.storagePlugins = append(g.storagePlugins, p)
	return p.Storage(), nil
}

// closeBackends stops the storage plugins.
func (g *Gateway) closeBackends(ctx context.Context) {
	for _, p := range g.storagePlugins {
		if err := p.Close(ctx); err != nil {
			g.Log.Warn("stopping a storage plugin", "storage", p.Name(), "err", err)
		}
	}
	g.storagePlugins = nil
}

// resolveRoot makes a local backend's relative root relative to the config file.
func resolveRoot(cfg *config.Config, c map[string]any) map[string]any {
	root, ok := c["root"].(string)
	if !ok {
		return c
	}
	out := make(map[string]any, len(c))
	for k, v := range c {
		out[k] = v
	}
	out["root"] = cfg.Resolve(root)
	return out
}

// Backend returns the storage backend named name.
func (g *Gateway) Backend(name string) (hostapi.Storage, error) {
	b, ok := g.backends[name]
	if !ok {
		return nil, fmt.Errorf("no storage backend named %q", name)
	}
	return b, nil
}

// SetBackend replaces or adds a backend (tests use it to give tenants separate storage).
func (g *Gateway) SetBackend(name string, b hostapi.Storage) { g.backends[name] = b }

// TenantFS returns a view of tenant t's storage for one session. Chroot and rights come
// from the session. FTP and SFTP sessions list folders from the metadata tree when the
// storage says listing = "metadata"; the REST API lists the physical storage.
func (g *Gateway) TenantFS(t store.Tenant, s vfs.Session) (*vfs.FS, error) {
	b, err := g.Backend(t.Storage)
	if err != nil {
		return nil, err
	}
	s.TenantID, s.TenantRoot = t.ID, t.StorageRoot
	fs := vfs.New(b, g.Store, s)
	switch s.Protocol {
	case "ftp", "ftps", "sftp":
		if g.listing(t.Storage) == config.ListingMetadata {
			fs.ListFrom(g.Store)
		}
	}
	return fs, nil
}

// listing returns the listing mode of the storage named name.
func (g *Gateway) listing(name string) string {
	for _, s := range g.Config.Storage {
		if s.Name == name && s.Listing != "" {
			return s.Listing
		}
	}
	return config.ListingDirect
}

// FS implements httpapi.Files: a REST API account sees its tenant's storage under its
// PathPrefix, with rights from its scopes.
func (g *Gateway) FS(ctx context.Context, who accounts.Principal, remoteAddr string) (*vfs.FS, error) {
	has := func(s string) bool { return auth.Missing(who.Account.Scopes, []string{s}) == "" }
	protocol := "http"
	if g.Config.HTTP.TLS {
		protocol = "https"
	}
	fs, err := g.TenantFS(who.Tenant, vfs.Session{
		Chroot: who.Account.PathPrefix, Account: who.Account.AccessKey, Protocol: protocol, RemoteAddr: remoteAddr,
		Rights: vfs.Rights{Read: has(auth.ScopeFileRead), List: has(auth.ScopeFileList), Write: has(auth.ScopeFileCreate),
			Delete: has(auth.ScopeFileDelete), Rename: has(auth.ScopeFileRename)},
	})
	if err != nil {
		return nil, err
	}
	return fs.AuthorizeWith(g.authorizer()), nil
}

// ensureDir creates an FTP account's chroot in its tenant's storage.
func (g *Gateway) ensureDir(ctx context.Context, t store.Tenant, dir string) error {
	fs, err := g.TenantFS(t, vfs.Session{Chroot: "/", Account: "system", Protocol: "http", Rights: vfs.Rights{Write: true, List: true}})
	if err != nil {
		return err
	}
	return fs.Mkdir(ctx, dir, true)
}

// Addr returns the bound address of the listener name ("http", "ftp", "sftp") once Run
// has bound it, or nil.
func (g *Gateway) Addr(name string) net.Addr {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.addrs[name]
}

// frontEnd is one protocol listener: Serve runs until ctx ends, then closes ln and
// returns once its connections have stopped.
type frontEnd struct {
	name   string // "http", "ftp", "sftp"
	listen string // host:port or "off"
	serve  func(ctx context.Context, ln net.Listener) error
}

// frontEnds lists every protocol front end; protocols.go adds FTP and SFTP.
func (g *Gateway) frontEnds() ([]frontEnd, error) {
	fes := []frontEnd{{name: "http", listen: g.Config.HTTP.Listen, serve: g.serveHTTP}}
	more, err := g.protocolFrontEnds()
	return append(fes, more...), err
}

// Run serves every enabled front end until ctx ends, then stops them and returns.
// ready, when not nil, is closed once every listener is bound. Run closes the store.
func (g *Gateway) Run(ctx context.Context, ready chan<- struct{}) error {
	defer g.Store.Close()
	defer g.closeBackends(context.WithoutCancel(ctx))
	defer g.auth.close(context.WithoutCancel(ctx))
	fes, err := g.frontEnds()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, len(fes))
	for _, fe := range fes {
		if fe.listen == "off" {
			continue
		}
		ln, err := g.listen(ctx, fe.name, fe.listen)
		if err != nil {
			cancel()
			wg.Wait()
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fe.serve(ctx, ln); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("%s: %w", fe.name, err)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		g.rules.Run(ctx)
	}()
	if ready != nil {
		close(ready)
	}
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	wg.Wait()
	return err
}

// serveHTTP runs the REST API on ln until ctx ends.
func (g *Gateway) serveHTTP(ctx context.Context, ln net.Listener) error {
	srv := g.api.Server()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		g.api.Close() // end streams in flight, so Shutdown need not wait for them
		srv.Shutdown()
	}()
	var err error
	if g.Config.HTTP.TLS {
		err = srv.ServeTLS(ln, g.certFile(g.Config.HTTP.Cert, TLSCert), g.certFile(g.Config.HTTP.Key, TLSKey))
	} else {
		err = srv.Serve(ln)
	}
	if ctx.Err() == nil {
		return err // failed by itself; Run cancels ctx, which ends the goroutine above
	}
	<-stopped
	return nil
}

func (g *Gateway) listen(ctx context.Context, name, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: listen on %s: %w (set [%s] listen to a free address, or \"off\")", name, addr, err, name)
	}
	g.mu.Lock()
	g.addrs[name] = ln.Addr()
	g.mu.Unlock()
	g.Log.Info("listening", "protocol", name, "addr", ln.Addr().String())
	return ln, nil
}

// certFile is the configured file, or the one init generated in the data directory.
func (g *Gateway) certFile(configured, generated string) string {
	if configured != "" {
		return g.Config.Resolve(configured)
	}
	return filepath.Join(g.Config.DataPath(), generated)
}

// TLSConfig loads the certificate for a listener (configured cert/key, or the generated one).
func (g *Gateway) TLSConfig(cert, key string) (*tls.Config, error) {
	c, err := tls.LoadX509KeyPair(g.certFile(cert, TLSCert), g.certFile(key, TLSKey))
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{c}, MinVersion: tls.VersionTLS12}, nil
}

// Routes lists the REST API's routes as "METHOD /pattern".
func (g *Gateway) Routes() []string { return g.api.Routes() }
