// Package trigger parses what decides when a rule runs: path globs ("/invoices/**")
// and schedules ("@every 1h", 5-field cron). It is a leaf package so that the config
// loader can validate rules without linking the rules engine.
package trigger

import (
	"fmt"
	"path"
	"strings"
)

// Glob matches clean absolute paths. Segments are matched with path.Match; a segment
// "**" matches zero or more whole segments, so "/invoices/**" matches "/invoices"
// and everything below it.
type Glob struct {
	pattern string
	segs    []string
}

// ParseGlob checks a pattern. It must be absolute; "**" must be a whole segment.
func ParseGlob(pattern string) (Glob, error) {
	if !strings.HasPrefix(pattern, "/") {
		return Glob{}, fmt.Errorf("glob %q: must start with / (e.g. \"/invoices/**\")", pattern)
	}
	segs := split(pattern)
	for _, s := range segs {
		if s == "**" {
			continue
		}
		if strings.Contains(s, "**") {
			return Glob{}, fmt.Errorf("glob %q: ** must be a whole path segment, as in /a/**/b", pattern)
		}
		if _, err := path.Match(s, ""); err != nil {
			return Glob{}, fmt.Errorf("glob %q: segment %q: %w", pattern, s, err)
		}
	}
	return Glob{pattern: pattern, segs: segs}, nil
}

// String returns the pattern.
func (g Glob) String() string { return g.pattern }

// Match reports whether the clean absolute path p matches.
func (g Glob) Match(p string) bool { return matchSegs(g.segs, split(p)) }

func split(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func matchSegs(pat, segs []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			rest := pat[1:]
			for i := 0; i <= len(segs); i++ {
				if matchSegs(rest, segs[i:]) {
					return true
				}
			}
			return false
		}
		if len(segs) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], segs[0]); !ok {
			return false
		}
		pat, segs = pat[1:], segs[1:]
	}
	return len(segs) == 0
}
