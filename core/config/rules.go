package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/filegate/filegate/core/rules/trigger"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// RuleLimits bound how a rule runs; zero values take the defaults below.
type RuleLimits struct {
	MaxAttempts int      `toml:"max_attempts"` // tries per run before it is parked as failed; default 8
	Timeout     Duration `toml:"timeout"`      // per plugin call; default 30s
	Concurrency int      `toml:"concurrency"`  // runs at once on this node; default 4
	Backoff     Duration `toml:"backoff"`      // wait before the first retry, doubling each time up to 1h; default 1s
}

// Rule limit defaults.
const (
	DefaultMaxAttempts = 8
	DefaultRuleTimeout = 30 * time.Second
	DefaultConcurrency = 4
	DefaultBackoff     = time.Second
)

// WithDefaults fills in the zero values.
func (l RuleLimits) WithDefaults() RuleLimits {
	if l.MaxAttempts == 0 {
		l.MaxAttempts = DefaultMaxAttempts
	}
	if l.Timeout == 0 {
		l.Timeout = Duration(DefaultRuleTimeout)
	}
	if l.Concurrency == 0 {
		l.Concurrency = DefaultConcurrency
	}
	if l.Backoff == 0 {
		l.Backoff = Duration(DefaultBackoff)
	}
	return l
}

// validateRules checks what can be checked without loading plugins: names, event
// types, globs, schedules, limits and the form of grants. The gateway checks plugins
// and the backends grants name when it starts the rules engine.
func (c *Config) validateRules() error {
	seen := map[string]bool{}
	var errs []error
	for i, r := range c.Rules {
		name := r.Name
		if name == "" {
			errs = append(errs, fmt.Errorf("rules[%d].name is required", i))
			continue
		}
		bad := func(key, format string, args ...any) {
			errs = append(errs, fmt.Errorf("rule %q: %s: %s", name, key, fmt.Sprintf(format, args...)))
		}
		if strings.ContainsAny(name, ":/ ") {
			bad("name", "%q may not contain ':', '/' or spaces", name)
		}
		if seen[name] {
			bad("name", "used by two rules")
		}
		seen[name] = true
		if r.Plugin == "" {
			bad("plugin", "is required (a builtin name such as \"webhook\", a .wasm file or an executable)")
		}
		if len(r.Events) == 0 && r.Schedule == "" {
			bad("events", "a rule needs events, a schedule, or both")
		}
		for _, ev := range r.Events {
			if !slices.Contains(hostapi.EventTypes, ev) {
				bad("events", "unknown event type %q (want one of %s)", ev, strings.Join(hostapi.EventTypes, ", "))
			}
		}
		if r.Schedule != "" {
			if _, err := trigger.ParseSchedule(r.Schedule, time.Local); err != nil {
				bad("schedule", "%v", err)
			}
		}
		for _, p := range r.Paths {
			if _, err := trigger.ParseGlob(p); err != nil {
				bad("paths", "%v", err)
			}
		}
		for _, a := range r.Allow {
			if _, _, ok := hostapi.ParseCapability(a); !ok {
				bad("allow", "%q is not a capability (want log, kv, storage:NAME or http:HOST)", a)
			}
		}
		l := r.Limits
		if l.MaxAttempts < 0 || l.Concurrency < 0 || l.Timeout < 0 || l.Backoff < 0 {
			bad("limits", "max_attempts, concurrency, timeout and backoff must not be negative")
		}
	}
	return errors.Join(errs...)
}
