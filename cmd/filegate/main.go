// Command filegate is the Filegate file-transfer gateway.
//
//	filegate init --dir DIR [--json]     prepare a directory (config, keys, store, admin key)
//	filegate serve [--config FILE]       run every front end
//	filegate keys create|list|revoke     manage REST API accounts
//	filegate console-link                print a one-time login link for the web console
//	filegate version                     print the version
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/filegate/filegate/conformance/plugintest"
	"github.com/filegate/filegate/core/accounts"
	"github.com/filegate/filegate/core/builtin"
	"github.com/filegate/filegate/core/config"
	"github.com/filegate/filegate/core/console"
	"github.com/filegate/filegate/core/gateway"
	"github.com/filegate/filegate/core/plugin"
	"github.com/filegate/filegate/core/store"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// version is set at build time with -ldflags "-X main.version=..."; otherwise it comes
// from the module's build info.
var version = ""

const usage = `usage: filegate <command> [flags]

commands:
  init --dir DIR [--json]        create DIR/gateway.toml (an existing one is kept), the data
                                 directory, host keys, TLS certificate, store, one tenant and
                                 an admin REST API account; print its keys
  serve [--config FILE] [--pprof ADDR]
                                 run the gateway (default ./gateway.toml; initialises ./ on
                                 first start and prints the admin keys once); --pprof serves
                                 Go's profiler on ADDR (keep it on loopback)
  keys create --scopes a,b [--expires 720h] [--path-prefix /x] [--description text]
  keys list
  keys revoke ACCESSKEY          REST API accounts (each takes --config FILE)
  reindex [--config FILE]        rebuild the metadata tree (/api/list/tree) from storage
  plugin test PATH|NAME [--kind rule|auth|storage] [--config k=v]... [--allow CAP]...
                                 run the plugin conformance kit on a .wasm file, an
                                 executable or a builtin name; one line per case
  migrate [--config FILE]        apply pending store migrations (serve does it too; nodes
                                 sharing PostgreSQL take turns)
  console-link [--config FILE] [--valid 10m] [--session 8h] [--scopes a,b] [--path-prefix /x]
               [--base-url URL]  print a one-time login link for the web console
  version                        print the version
`

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "filegate:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg + "\n\n" + usage }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"no command given"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "init":
		return cmdInit(ctx, rest, stdout)
	case "serve":
		return cmdServe(ctx, rest, stdout, stderr)
	case "keys":
		return cmdKeys(ctx, rest, stdout)
	case "reindex":
		return cmdReindex(ctx, rest, stdout, stderr)
	case "plugin":
		return cmdPlugin(ctx, rest, stdout)
	case "migrate":
		return cmdMigrate(ctx, rest, stdout)
	case "console-link":
		return cmdConsoleLink(ctx, rest, stdout)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "filegate", versionString(), "host API", hostapi.Version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses flags wherever they stand among the arguments ("keys revoke AK --config
// f" as well as "keys revoke --config f AK"); positional arguments stay in order.
func parse(fs *flag.FlagSet, args []string) error {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return usageError{fmt.Sprintf("%s: %v", fs.Name(), err)}
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return fs.Parse(append([]string{"--"}, positional...))
}

func cmdInit(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("init")
	dir := fs.String("dir", ".", "directory to initialise")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parse(fs, args); err != nil {
		return err
	}
	_, res, err := gateway.Init(ctx, *dir)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	printKeys(stdout, res)
	return nil
}

func printKeys(w io.Writer, res gateway.InitResult) {
	if !res.Created {
		fmt.Fprintf(w, "Already initialised (AssociationKey %s); keys are shown only once. Use `filegate keys create` for a new one.\n", res.AssociationKey)
		return
	}
	fmt.Fprintf(w, `Admin REST API account (the SecretKey is shown only this once):
  AssociationKey: %s
  AccessKey:      %s
  SecretKey:      %s
Listening on: http %s, ftp %s, sftp %s
`, res.AssociationKey, res.AccessKey, res.SecretKey, res.HTTP, res.FTP, res.SFTP)
}

// openStore loads the configuration (see loadConfig) and opens its store.
func openStore(ctx context.Context, cfgPath string) (*config.Config, *store.Store, error) {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return nil, nil, err
	}
	st, err := gateway.OpenStore(ctx, cfg)
	return cfg, st, err
}

// openTenant opens the store and returns its first tenant, the one init created; the
// caller closes the store. cmd names the command in errors.
func openTenant(ctx context.Context, cmd, cfgPath string) (*store.Store, store.Tenant, error) {
	cfg, st, err := openStore(ctx, cfgPath)
	if err != nil {
		return nil, store.Tenant{}, err
	}
	tenants, err := st.Tenants(ctx)
	if err == nil && len(tenants) == 0 {
		err = fmt.Errorf("%s: the store at %s has no tenant: run `filegate init` first", cmd, cfg.DataPath())
	}
	if err != nil {
		st.Close()
		return nil, store.Tenant{}, err
	}
	return st, tenants[0], nil
}

// loadConfig reads --config, or ./gateway.toml, or the embedded defaults anchored at ./.
func loadConfig(path string) (*config.Config, error) {
	if path != "" {
		return config.Load(path)
	}
	if _, err := os.Stat("gateway.toml"); err == nil {
		return config.Load("gateway.toml")
	}
	return config.Default("."), nil
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve")
	cfgPath := fs.String("config", "", "configuration file (default ./gateway.toml)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	pprofAddr := fs.String("pprof", "", "serve Go's profiler (net/http/pprof) on this address, e.g. 127.0.0.1:6060")
	if err := parse(fs, args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usageError{fmt.Sprintf("serve: --log-level %q: want debug, info, warn or error", *logLevel)}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	var cfg *config.Config
	var res gateway.InitResult
	var err error
	if *cfgPath == "" {
		// Like `filegate init --dir .`: writes gateway.toml only if it is missing.
		cfg, res, err = gateway.Init(ctx, ".")
	} else if cfg, err = config.Load(*cfgPath); err == nil {
		res, err = gateway.Prepare(ctx, cfg)
	}
	if err != nil {
		return err
	}
	if res.Created {
		printKeys(stdout, res)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *pprofAddr != "" {
		stopProfiler, err := serveProfiler(*pprofAddr, log)
		if err != nil {
			return err
		}
		defer stopProfiler()
	}
	g, err := gateway.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	return g.Run(ctx, nil)
}

func cmdKeys(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{"keys: want create, list or revoke"}
	}
	sub, rest := args[0], args[1:]
	fs := newFlags("keys " + sub)
	cfgPath := fs.String("config", "", "configuration file (default ./gateway.toml)")
	scopes := fs.String("scopes", "", "comma-separated scopes")
	expires := fs.Duration("expires", 0, "lifetime, e.g. 720h (default: never expires)")
	prefix := fs.String("path-prefix", "", "confine the account to this folder")
	desc := fs.String("description", "", "what the key is for")
	if err := parse(fs, rest); err != nil {
		return err
	}
	st, t, err := openTenant(ctx, "keys", *cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	switch sub {
	case "create":
		if *scopes == "" {
			return usageError{"keys create: --scopes is required (e.g. --scopes file.read,file.list)"}
		}
		in := accounts.NewAPIAccount{Scopes: []string{*scopes}, PathPrefix: *prefix, Description: *desc}
		if *expires < 0 {
			return usageError{"keys create: --expires must be positive"}
		}
		if *expires > 0 {
			in.ExpiresAt = time.Now().Add(*expires)
		}
		svc := &accounts.Service{Store: st}
		a, secret, err := svc.CreateAPIAccount(ctx, t.ID, nil, in)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "AssociationKey: %s\nAccessKey:      %s\nSecretKey:      %s\nScopes:         %s\n", t.AssociationKey, a.AccessKey, secret, strings.Join(a.Scopes, " "))
		if !a.ExpiresAt.IsZero() {
			fmt.Fprintf(stdout, "ExpiresAt:      %s\n", a.ExpiresAt.Format(time.RFC3339))
		}
		return nil
	case "list":
		list, _, err := st.APIAccounts(ctx, t.ID, 1<<30, 0)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "ACCESSKEY\tEXPIRES\tPATH\tSCOPES\tDESCRIPTION")
		for _, a := range list {
			exp := "never"
			if !a.ExpiresAt.IsZero() {
				exp = a.ExpiresAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.AccessKey, exp, a.PathPrefix, strings.Join(a.Scopes, ","), a.Description)
		}
		return tw.Flush()
	case "revoke":
		if fs.NArg() != 1 {
			return usageError{"keys revoke: want exactly one AccessKey"}
		}
		if err := st.DeleteAPIAccount(ctx, t.ID, fs.Arg(0)); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("keys revoke: no REST API account %q", fs.Arg(0))
			}
			return err
		}
		fmt.Fprintf(stdout, "revoked %s\n", fs.Arg(0))
		return nil
	}
	return usageError{fmt.Sprintf("keys: unknown subcommand %q (want create, list or revoke)", sub)}
}

func cmdReindex(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("reindex")
	cfgPath := fs.String("config", "", "configuration file (default ./gateway.toml)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	g, err := gateway.Open(ctx, cfg, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	defer g.Store.Close()
	st, err := g.Reindex(ctx, func(s gateway.ReindexStats) {
		fmt.Fprintf(stderr, "reindex: %d files, %d folders so far\n", s.Files, s.Dirs)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "reindexed %d tenant(s): %d files (%d hashed), %d folders\n", st.Tenants, st.Files, st.Hashed, st.Dirs)
	return nil
}

// cmdConsoleLink prints a one-time login link for the web console. The link carries a
// random code in its fragment; the store keeps only its hash. Opening the link within
// --valid redeems the code once for a new REST API account that lives --session.
func cmdConsoleLink(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("console-link")
	cfgPath := fs.String("config", "", "configuration file (default ./gateway.toml)")
	valid := fs.Duration("valid", 10*time.Minute, "how long the link can be used (once)")
	session := fs.Duration("session", 8*time.Hour, "lifetime of the console session it opens")
	scopes := fs.String("scopes", "", "comma-separated scopes of the session (default: every scope)")
	prefix := fs.String("path-prefix", "", "confine the session to this folder")
	baseURL := fs.String("base-url", "", "address of the console as the browser reaches it (default: from [http] listen)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *valid <= 0 || *session <= 0 {
		return usageError{"console-link: --valid and --session must be positive"}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	base := *baseURL
	if base == "" {
		if base, err = consoleBaseURL(cfg); err != nil {
			return err
		}
	}
	st, tenant, err := openTenant(ctx, "console-link", *cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	o := console.LinkOptions{PathPrefix: *prefix, Valid: *valid, Session: *session}
	if *scopes != "" {
		o.Scopes = []string{*scopes}
	}
	code, err := console.CreateLink(ctx, st, tenant.ID, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Open this link within %s; it works once and signs you in for %s:\n  %s\n", *valid, *session, console.LinkURL(base, code))
	return nil
}

// consoleBaseURL is the console's address from [http] listen: an unspecified host
// (0.0.0.0, ::, empty) becomes 127.0.0.1.
func consoleBaseURL(cfg *config.Config) (string, error) {
	if cfg.HTTP.Listen == "off" {
		return "", fmt.Errorf("console-link: [http] listen is \"off\", so there is no console: pass --base-url if it is served elsewhere")
	}
	host, port, err := net.SplitHostPort(cfg.HTTP.Listen)
	if err != nil {
		return "", fmt.Errorf("console-link: [http] listen %q: %w", cfg.HTTP.Listen, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	scheme := "http"
	if cfg.HTTP.TLS {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port), nil
}

func cmdMigrate(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("migrate")
	cfgPath := fs.String("config", "", "configuration file (default ./gateway.toml)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, st, err := openStore(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "the %s store is at schema version %d\n", cfg.Store.Driver, v)
	return nil
}

// cmdPlugin runs `plugin test`: the conformance kit on one plugin, one line per case.
func cmdPlugin(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "test" {
		return usageError{"plugin: want \"plugin test PATH|NAME\""}
	}
	fs := newFlags("plugin test")
	kind := fs.String("kind", "", "rule, auth or storage (default: the manifest's)")
	cacheDir := fs.String("cache", "", "wazero compilation cache directory")
	var cfgPairs, allow multiFlag
	fs.Var(&cfgPairs, "config", "a config key=value (repeatable; values are strings, numbers or booleans)")
	fs.Var(&allow, "allow", "an extra grant (repeatable)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"plugin test: want one PATH or NAME"}
	}
	cfg := map[string]any{}
	for _, kv := range cfgPairs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return usageError{fmt.Sprintf("plugin test: --config %q is not key=value", kv)}
		}
		cfg[k] = configValue(v)
	}
	opts := plugintest.Options{Plugin: fs.Arg(0), Kind: hostapi.Kind(*kind), Config: cfg, Allow: allow, CacheDir: *cacheDir,
		Builtin: builtinOf(hostapi.Kind(*kind))}
	if opts.Kind == hostapi.KindStorage || plugin.TransportOf(opts.Plugin) != plugin.Builtin {
		tmp, err := os.MkdirTemp("", "filegate-plugin-test-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		opts.StorageConfig = freshStorage(cfg, tmp)
	}
	var cases int
	failed := plugintest.Run(ctx, opts, func(r plugintest.Result) {
		cases++
		if r.Err != nil {
			fmt.Fprintf(stdout, "FAIL  %s: %v\n", r.Case, r.Err)
		} else {
			fmt.Fprintf(stdout, "ok    %s\n", r.Case)
		}
	})
	if failed > 0 {
		return fmt.Errorf("plugin test %s: %d of %d cases failed", fs.Arg(0), failed, cases)
	}
	fmt.Fprintf(stdout, "PASS  %d cases\n", cases)
	return nil
}

// builtinOf returns the lookup of builtin plugins of kind ("" is rule or auth).
func builtinOf(kind hostapi.Kind) func(string) (hostapi.Plugin, bool) {
	switch kind {
	case hostapi.KindStorage:
		return builtin.Storage
	case hostapi.KindAuth:
		return builtin.Auth
	}
	return func(name string) (hostapi.Plugin, bool) {
		if p, ok := builtin.Rule(name); ok {
			return p, true
		}
		return builtin.Auth(name)
	}
}

// freshStorage returns the config of a fresh backend for each storage case: cfg, and
// for a local backend (builtin or plugin) without a root, a new folder in tmp.
func freshStorage(cfg map[string]any, tmp string) func(hostapi.Manifest) (map[string]any, error) {
	return func(m hostapi.Manifest) (map[string]any, error) {
		c := maps.Clone(cfg)
		if _, ok := c["root"]; !ok && m.Name == "local" {
			dir, err := os.MkdirTemp(tmp, "case-")
			if err != nil {
				return nil, err
			}
			c["root"] = dir
		}
		return c, nil
	}
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// configValue reads a --config value as a bool, an integer, or else a string.
func configValue(v string) any {
	if b, err := strconv.ParseBool(v); err == nil {
		return b
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n
	}
	return v
}
