package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// Auth is one [[auth]] plugin. Auth plugins are asked in the order gateway.toml
// lists them: about every FTP, FTPS and SFTP login (the first that allows or denies
// decides; when all abstain the gateway's accounts do) and before every file operation
// (each must allow it).
type Auth struct {
	Name   string         `toml:"name"`
	Plugin string         `toml:"plugin"` // a builtin name, a .wasm file or an executable
	Allow  []string       `toml:"allow"`  // the host calls the plugin may make
	Config map[string]any `toml:"config"` // the plugin's own table
	// OnError says what an error or a timeout of the plugin means: "deny" (the
	// default: fail closed, the login or operation is refused) or "allow" (fail open:
	// the plugin is skipped as if it had abstained or allowed).
	OnError string   `toml:"on_error"`
	Timeout Duration `toml:"timeout"` // per call; default 5s
}

// On-error policies of an [[auth]] plugin.
const (
	OnErrorDeny  = "deny"
	OnErrorAllow = "allow"
)

// DefaultAuthTimeout bounds one call of an auth plugin when timeout is not set: a
// login or an upload waits for it.
const DefaultAuthTimeout = 5 * time.Second

// applyAuthDefaults fills in on_error and timeout.
func (c *Config) applyAuthDefaults() {
	for i := range c.Auth {
		a := &c.Auth[i]
		if a.OnError == "" {
			a.OnError = OnErrorDeny
		}
		if a.Timeout == 0 {
			a.Timeout = Duration(DefaultAuthTimeout)
		}
	}
}

// validateAuth checks what can be checked without loading the plugins; the gateway
// loads them (checking kind, host API version and config) when it opens.
func (c *Config) validateAuth() error {
	seen := map[string]bool{}
	var errs []error
	for i, a := range c.Auth {
		if a.Name == "" {
			errs = append(errs, fmt.Errorf("auth[%d].name is required", i))
			continue
		}
		bad := func(key, format string, args ...any) {
			errs = append(errs, fmt.Errorf("auth %q: %s: %s", a.Name, key, fmt.Sprintf(format, args...)))
		}
		if strings.ContainsAny(a.Name, ":/ ") {
			bad("name", "%q may not contain ':', '/' or spaces", a.Name)
		}
		if seen[a.Name] {
			bad("name", "used by two [[auth]] entries")
		}
		seen[a.Name] = true
		if a.Plugin == "" {
			bad("plugin", "is required (a builtin name, a .wasm file or an executable)")
		}
		for _, g := range a.Allow {
			if _, _, ok := hostapi.ParseCapability(g); !ok {
				bad("allow", "%q is not a capability (want log, kv, storage:NAME or http:HOST)", g)
			}
		}
		if a.OnError != OnErrorDeny && a.OnError != OnErrorAllow {
			bad("on_error", "%q: want %q (fail closed) or %q (fail open)", a.OnError, OnErrorDeny, OnErrorAllow)
		}
		if a.Timeout < 0 {
			bad("timeout", "must not be negative")
		}
	}
	return errors.Join(errs...)
}
