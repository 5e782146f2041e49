// Package config reads gateway.toml. Decoding is strict: an unknown key or a value of
// the wrong type is an error that names the key, never silently ignored.
package config

import (
	_ "embed"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// DefaultTOML is the documented default configuration, the repository's gateway.toml.
//
//go:embed default.toml
var DefaultTOML string

// Config is the whole of gateway.toml.
type Config struct {
	DataDir  string    `toml:"data_dir"`
	HTTP     HTTP      `toml:"http"`
	FTP      FTP       `toml:"ftp"`
	SFTP     SFTP      `toml:"sftp"`
	Store    Store     `toml:"store"`
	Security Security  `toml:"security"`
	Storage  []Storage `toml:"storage"`
	Rules    []Rule    `toml:"rules"`
	Auth     []Auth    `toml:"auth"`

	// path is the file the config was read from; relative paths are resolved against
	// its folder.
	path string
}

// HTTP configures the REST API listener.
type HTTP struct {
	Listen      string   `toml:"listen"`
	TLS         bool     `toml:"tls"`
	Cert        string   `toml:"cert"`
	Key         string   `toml:"key"`
	TokenTTL    Duration `toml:"token_ttl"`
	RateLimit   int      `toml:"rate_limit"`  // requests per RateWindow per REST API account; 0 = unlimited
	RateWindow  Duration `toml:"rate_window"` // window of RateLimit
	MaxJSONBody Size     `toml:"max_json_body"`
	MaxUpload   Size     `toml:"max_upload"` // 0 = unlimited
}

// FTP configures the FTP/FTPS listener.
type FTP struct {
	Listen       string `toml:"listen"`
	PassivePorts string `toml:"passive_ports"`
	TLS          string `toml:"tls"` // off, explicit, implicit
	TLSRequired  bool   `toml:"tls_required"`
	Cert         string `toml:"cert"`
	Key          string `toml:"key"`
}

// SFTP configures the SFTP listener.
type SFTP struct {
	Listen string `toml:"listen"`
}

// Store selects the database.
type Store struct {
	Driver string `toml:"driver"` // sqlite (default) or postgres
	DSN    string `toml:"dsn"`    // for sqlite, a file path (default DATA_DIR/filegate.db)
}

// Security configures brute-force protection and the password cache.
type Security struct {
	BanThreshold int      `toml:"ban_threshold"` // failed logins per IP within BanWindow
	BanWindow    Duration `toml:"ban_window"`
	BanTime      Duration `toml:"ban_time"`
	// PasswordCache is how long a password that matched an account's stored hash is
	// accepted again without another argon2id derivation (auth.PasswordCache); "0s"
	// turns the cache off. Default 5m.
	PasswordCache Duration `toml:"password_cache"`
}

// Storage is one [[storage]] backend.
type Storage struct {
	Name   string         `toml:"name"`
	Plugin string         `toml:"plugin"`
	Config map[string]any `toml:"config"`
	// Listing says what answers FTP and SFTP folder listings: "direct" (the default)
	// asks the backend; "metadata" reads the metadata tree, which is much faster on
	// object storage but sees only what went through the gateway (run `filegate
	// reindex` after changing the storage behind its back).
	Listing string `toml:"listing"`
	// Timeout bounds one call of a storage plugin served over wasm or a process
	// (default 10s); folder renames and start-up sweeps, which copy or list a whole
	// folder, may take up to an hour more. Builtin backends ignore it.
	Timeout Duration `toml:"timeout"`
}

// Listing modes of a [[storage]].
const (
	ListingDirect   = "direct"
	ListingMetadata = "metadata"
)

// Rule is one [[rules]] automation rule (see rules.go).
type Rule struct {
	Name     string         `toml:"name"`
	Plugin   string         `toml:"plugin"`
	Events   []string       `toml:"events"`
	Schedule string         `toml:"schedule"`
	Paths    []string       `toml:"paths"`
	Allow    []string       `toml:"allow"`
	Config   map[string]any `toml:"config"`
	Limits   RuleLimits     `toml:"limits"`
}

// Parse decodes TOML text, applies defaults and validates the result. path names the
// source in errors and anchors relative paths; it may be "".
func Parse(text, path string) (*Config, error) {
	c := &Config{}
	md, err := toml.Decode(text, c)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return nil, fmt.Errorf("config %s: line %d: %s", path, perr.Position.Line, perr.Message)
		}
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		var keys []string
		for _, k := range undecoded {
			if isFreeForm(k) {
				continue
			}
			keys = append(keys, k.String())
		}
		if len(keys) > 0 {
			return nil, fmt.Errorf("config %s: unknown key %s", path, strings.Join(keys, ", "))
		}
	}
	c.path = path
	if !md.IsDefined("security", "password_cache") {
		c.Security.PasswordCache = Duration(5 * time.Minute) // 0 is a choice: no cache
	}
	c.applyDefaults()
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// isFreeForm reports whether k lies inside a plugin's own config table, which the
// plugin decodes and validates itself.
func isFreeForm(k toml.Key) bool {
	return len(k) >= 2 && (k[0] == "storage" || k[0] == "rules" || k[0] == "auth") && k[1] == "config"
}

// Load reads and parses the file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(string(b), path)
}

// Default returns the embedded default configuration anchored at dir.
func Default(dir string) *Config {
	c, err := Parse(DefaultTOML, filepath.Join(dir, "gateway.toml"))
	if err != nil {
		panic("config: embedded default is invalid: " + err.Error()) // a build defect, caught by tests
	}
	return c
}

// Path is the file the configuration was read from.
func (c *Config) Path() string { return c.path }

// Resolve makes p absolute relative to the config file's folder.
func (c *Config) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(c.path), p)
}

// DataPath is the absolute data directory.
func (c *Config) DataPath() string { return c.Resolve(c.DataDir) }

func (c *Config) applyDefaults() {
	if c.DataDir == "" {
		c.DataDir = "data"
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.HTTP.Listen, "127.0.0.1:8080")
	def(&c.FTP.Listen, "127.0.0.1:2121")
	def(&c.FTP.PassivePorts, "50000-50100")
	def(&c.FTP.TLS, "off")
	def(&c.SFTP.Listen, "127.0.0.1:2222")
	def(&c.Store.Driver, "sqlite")
	if c.HTTP.TokenTTL == 0 {
		c.HTTP.TokenTTL = Duration(15 * time.Minute)
	}
	if c.HTTP.RateWindow == 0 {
		c.HTTP.RateWindow = Duration(time.Minute)
	}
	if c.HTTP.MaxJSONBody == 0 {
		c.HTTP.MaxJSONBody = 1 << 20
	}
	if c.Security.BanThreshold == 0 {
		c.Security.BanThreshold = 10
	}
	if c.Security.BanWindow == 0 {
		c.Security.BanWindow = Duration(5 * time.Minute)
	}
	if c.Security.BanTime == 0 {
		c.Security.BanTime = Duration(15 * time.Minute)
	}
	c.applyAuthDefaults()
}

func (c *Config) validate() error {
	for key, addr := range map[string]string{"http.listen": c.HTTP.Listen, "ftp.listen": c.FTP.Listen, "sftp.listen": c.SFTP.Listen} {
		if addr == "off" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("%s = %q: want host:port or \"off\"", key, addr)
		}
	}
	if _, _, err := c.FTP.PassiveRange(); err != nil {
		return err
	}
	switch c.FTP.TLS {
	case "off", "explicit", "implicit":
	default:
		return fmt.Errorf("ftp.tls = %q: want \"off\", \"explicit\" or \"implicit\"", c.FTP.TLS)
	}
	if c.FTP.TLSRequired && c.FTP.TLS == "off" {
		return errors.New("ftp.tls_required = true needs ftp.tls = \"explicit\" or \"implicit\"")
	}
	if (c.HTTP.Cert == "") != (c.HTTP.Key == "") {
		return errors.New("http.cert and http.key must be set together")
	}
	if (c.FTP.Cert == "") != (c.FTP.Key == "") {
		return errors.New("ftp.cert and ftp.key must be set together")
	}
	switch c.Store.Driver {
	case "sqlite", "postgres":
	default:
		return fmt.Errorf("store.driver = %q: want \"sqlite\" or \"postgres\"", c.Store.Driver)
	}
	if c.HTTP.RateLimit < 0 {
		return fmt.Errorf("http.rate_limit = %d: must be >= 0", c.HTTP.RateLimit)
	}
	if c.Security.PasswordCache < 0 {
		return fmt.Errorf("security.password_cache = %s: must not be negative (\"0s\" turns the cache off)", c.Security.PasswordCache.D())
	}
	seen := map[string]bool{}
	for i, s := range c.Storage {
		if s.Name == "" {
			return fmt.Errorf("storage[%d].name is required", i)
		}
		if s.Plugin == "" {
			return fmt.Errorf("storage %q: plugin is required", s.Name)
		}
		if seen[s.Name] {
			return fmt.Errorf("storage %q: name used twice", s.Name)
		}
		seen[s.Name] = true
		switch s.Listing {
		case "", ListingDirect, ListingMetadata:
		default:
			return fmt.Errorf("storage %q: listing = %q: want %q or %q", s.Name, s.Listing, ListingDirect, ListingMetadata)
		}
		if s.Timeout < 0 {
			return fmt.Errorf("storage %q: timeout = %s: must not be negative", s.Name, s.Timeout.D())
		}
	}
	return errors.Join(c.validateRules(), c.validateAuth())
}

// PassiveRange parses passive_ports "lo-hi".
func (f FTP) PassiveRange() (lo, hi int, err error) {
	a, b, ok := strings.Cut(f.PassivePorts, "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || lo < 1 || hi > 65535 || lo > hi {
		return 0, 0, fmt.Errorf("ftp.passive_ports = %q: want \"lo-hi\", e.g. \"50000-50100\"", f.PassivePorts)
	}
	return lo, hi, nil
}

// Duration is a time.Duration written as a string ("15m", "720h").
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: %w", b, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Size is a byte count written as a number or a string with a unit ("10MiB", "2GB").
type Size int64

// UnmarshalTOML accepts an integer number of bytes or a string with a unit.
func (s *Size) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case int64:
		if v < 0 {
			return fmt.Errorf("size %d: must be >= 0", v)
		}
		*s = Size(v)
		return nil
	case string:
		n, err := ParseSize(v)
		*s = Size(n)
		return err
	default:
		return fmt.Errorf("size: want an integer or a string like \"10MiB\", got %T", v)
	}
}

// ParseSize parses "123", "10KiB", "5MB", "2GiB", "1TiB".
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q: want a number of bytes with an optional unit (KiB, MiB, GiB, TiB, KB, MB, GB, TB)", s)
	}
	return n * mult, nil
}
