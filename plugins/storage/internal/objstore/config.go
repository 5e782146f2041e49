package objstore

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
)

// Config reads a plugin's `[[storage]] config` table. Every error names the key; the
// first one is kept and returned by Err, so callers read every key and check once.
type Config struct {
	plugin string
	m      map[string]any
	known  []string
	err    error
}

// NewConfig returns a Config reading m for the plugin named plugin.
func NewConfig(plugin string, m map[string]any) *Config {
	return &Config{plugin: plugin, m: m}
}

// fail records the first error.
func (c *Config) fail(key, format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf("%s: config key %q %s", c.plugin, key, fmt.Sprintf(format, args...))
	}
}

// String returns the string at key, or "" when absent.
func (c *Config) String(key string) string {
	c.known = append(c.known, key)
	v, ok := c.m[key]
	if !ok {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		c.fail(key, "must be a string, not %T", v)
	}
	return s
}

// Duration returns the duration at key (a string such as "24h"), or 0 when absent.
func (c *Config) Duration(key string) time.Duration {
	s := c.String(key)
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		c.fail(key, "is not a duration such as \"24h\": %q", s)
	}
	return d
}

// Required returns the string at key, which must be present and not empty.
func (c *Config) Required(key string) string {
	s := c.String(key)
	if s == "" {
		if _, present := c.m[key]; present {
			c.fail(key, "is empty")
		} else {
			c.fail(key, "is required")
		}
	}
	return s
}

// Bool returns the boolean at key, or false when absent.
func (c *Config) Bool(key string) bool {
	c.known = append(c.known, key)
	v, ok := c.m[key]
	if !ok {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		c.fail(key, "must be true or false, not %T", v)
	}
	return b
}

// Int returns the integer at key, def when absent; it must lie in [lo, hi].
func (c *Config) Int(key string, def, lo, hi int64) int64 {
	c.known = append(c.known, key)
	v, ok := c.m[key]
	if !ok {
		return def
	}
	var n int64
	switch x := v.(type) {
	case int64:
		n = x
	case int:
		n = int64(x)
	case float64:
		if x != math.Trunc(x) {
			c.fail(key, "must be a whole number, not %v", x)
			return def
		}
		n = int64(x)
	default:
		c.fail(key, "must be a number, not %T", v)
		return def
	}
	if n < lo || n > hi {
		c.fail(key, "is %d, out of range [%d, %d]", n, lo, hi)
		return def
	}
	return n
}

// Size returns a size in bytes at key: a number, or a string such as "16MiB"; def
// when absent. It must lie in [lo, hi].
func (c *Config) Size(key string, def, lo, hi int64) int64 {
	v, ok := c.m[key].(string)
	if !ok {
		return c.Int(key, def, lo, hi)
	}
	c.known = append(c.known, key)
	n, err := humanize.ParseBytes(v)
	if err != nil || n > math.MaxInt64 {
		c.fail(key, "is not a size like \"16MiB\": %q", v)
		return def
	}
	if int64(n) < lo || int64(n) > hi {
		c.fail(key, "is %s, out of range [%s, %s]", v, humanize.IBytes(uint64(lo)), humanize.IBytes(uint64(hi)))
		return def
	}
	return int64(n)
}

// Err returns the first error met, or an error naming a key that was never read.
func (c *Config) Err() error {
	if c.err != nil {
		return c.err
	}
	var unknown []string
	for k := range c.m {
		if !slices.Contains(c.known, k) {
			unknown = append(unknown, fmt.Sprintf("%q", k))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fmt.Errorf("%s: unknown config key %s", c.plugin, strings.Join(unknown, ", "))
	}
	return nil
}

// Prefix normalises a key prefix from config: no leading "/", and a trailing "/"
// unless empty. It rejects "." and ".." elements.
func Prefix(p string) (string, error) {
	p = strings.Trim(p, "/")
	if p == "" {
		return "", nil
	}
	for _, el := range strings.Split(p, "/") {
		if el == "" || el == "." || el == ".." {
			return "", errors.New(`must be a clean path ("a/b")`)
		}
	}
	return p + "/", nil
}

// Defaults and limits of the keys StoreOptions reads.
const (
	DefaultPartSize    = 8 << 20
	DefaultConcurrency = 2
	MaxConcurrency     = 32
)

// StoreOptions reads the keys every object-store plugin has: "prefix", the part size
// under sizeKey ("part_size", "block_size": at least minPart bytes, at most
// plan.MaxSize) and "concurrency". plan gives the backend's limits; its Size is
// replaced by the configured part size.
func (c *Config) StoreOptions(sizeKey string, minPart int, plan PartPlan) Options {
	prefix, err := Prefix(c.String("prefix"))
	if err != nil {
		c.fail("prefix", "%v", err)
	}
	plan.Size = int(c.Size(sizeKey, DefaultPartSize, int64(minPart), int64(plan.MaxSize)))
	return Options{
		Name:        c.plugin,
		Prefix:      prefix,
		Parts:       plan,
		Concurrency: int(c.Int("concurrency", DefaultConcurrency, 1, MaxConcurrency)),
	}
}
