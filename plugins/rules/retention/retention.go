// Package retention is the first-party cleanup rule plugin: on a schedule it deletes,
// under configured folders, files older than a duration, all but the newest N of each
// folder, and the oldest files beyond a total size. Each criterion deletes on its own:
// a file goes when any configured one says so. Every deletion goes through the host,
// so it is an event with protocol "rule".
//
//	[[rules]]
//	name = "cleanup"
//	plugin = "retention"
//	schedule = "0 3 * * *"
//	allow = ["storage:default", "log"]
//	config = { dirs = ["/cameras"], max_age = "720h", keep_last = 100, max_total_size = "10GiB", skip = ["*.keep", "/cameras/evidence/*"], dry_run = false }
//
// With dry_run nothing is deleted: each file that would be is logged (grant "log").
package retention

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/rules/internal/hostutil"
)

// Rule is the retention rule. The zero value is ready; its config comes from the host.
type Rule struct{}

// Config is the rule's config table.
type Config struct {
	Dirs         []string `json:"dirs"`           // folders to clean, each with everything below it; default ["/"]
	MaxAge       string   `json:"max_age"`        // a duration such as "720h"; "" keeps files of any age
	KeepLast     int      `json:"keep_last"`      // per folder, keep only the newest N files; 0 = no limit
	MaxTotalSize string   `json:"max_total_size"` // per configured dir, e.g. "10GiB"; "" = no limit
	Skip         []string `json:"skip"`           // path.Match patterns: on the file name, or the whole path when they start with /
	DryRun       bool     `json:"dry_run"`
	Backend      string   `json:"backend"` // default "default"
}

// Manifest implements hostapi.Plugin.
func (Rule) Manifest() hostapi.Manifest {
	return hostapi.Manifest{
		Name:         "retention",
		Kind:         hostapi.KindRule,
		Capabilities: []string{hostapi.CapStorage("default")},
		Config: []hostapi.ConfigField{
			{Name: "dirs", Type: hostapi.ConfigStrings, Doc: `folders to clean, default ["/"]`},
			{Name: "max_age", Type: hostapi.ConfigDuration, Doc: `delete files older than this, e.g. "720h"`},
			{Name: "keep_last", Type: hostapi.ConfigInt, Doc: "keep only the newest N files of each folder"},
			{Name: "max_total_size", Type: hostapi.ConfigString, Doc: `delete the oldest files beyond this total per dir, e.g. "10GiB"`},
			{Name: "skip", Type: hostapi.ConfigStrings, Doc: "patterns of files never deleted: on the name, or the whole path when starting with /"},
			{Name: "dry_run", Type: hostapi.ConfigBool, Doc: "only log what would be deleted"},
			{Name: "backend", Type: hostapi.ConfigString, Doc: `storage backend, default "default"`},
		},
	}
}

// policy is a checked Config.
type policy struct {
	Config
	maxAge   time.Duration
	maxTotal int64
}

func load(ctx context.Context, h hostapi.Host) (policy, error) {
	p := policy{Config: Config{Dirs: []string{"/"}, Backend: "default"}}
	if err := h.Config(ctx, &p.Config); err != nil {
		return p, err
	}
	var err error
	if p.MaxAge != "" {
		if p.maxAge, err = time.ParseDuration(p.MaxAge); err != nil || p.maxAge <= 0 {
			return p, fmt.Errorf("config max_age %q: want a positive duration such as \"720h\"", p.MaxAge)
		}
	}
	if p.MaxTotalSize != "" {
		if p.maxTotal, err = parseSize(p.MaxTotalSize); err != nil {
			return p, fmt.Errorf("config max_total_size: %w", err)
		}
	}
	if p.KeepLast < 0 {
		return p, fmt.Errorf("config keep_last %d: must not be negative", p.KeepLast)
	}
	for _, s := range p.Skip {
		if _, err := path.Match(s, ""); err != nil {
			return p, fmt.Errorf("config skip %q: %w", s, err)
		}
	}
	for i, d := range p.Dirs {
		if !strings.HasPrefix(d, "/") {
			return p, fmt.Errorf("config dirs %q: want an absolute folder such as \"/cameras\"", d)
		}
		p.Dirs[i] = path.Clean(d)
	}
	if p.maxAge == 0 && p.KeepLast == 0 && p.maxTotal == 0 {
		return p, errors.New("config: set at least one of max_age, keep_last and max_total_size")
	}
	return p, nil
}

func (p policy) skipped(file string) bool {
	for _, s := range p.Skip {
		target := path.Base(file)
		if strings.HasPrefix(s, "/") {
			target = file
		}
		if ok, _ := path.Match(s, target); ok {
			return true
		}
	}
	return false
}

// file is one candidate for deletion.
type file struct {
	path string
	hostapi.FileInfo
}

// newestFirst orders files by modification time, newest first, then by path.
func newestFirst(a, b file) int {
	if c := b.ModTime.Compare(a.ModTime); c != 0 {
		return c
	}
	return cmp.Compare(a.path, b.path)
}

// doomed applies the policy to the files of one configured dir at time now and
// returns the paths to delete, sorted, each with the reason.
func (p policy) doomed(files []file, now time.Time) map[string]string {
	out := map[string]string{}
	if p.maxAge > 0 {
		for _, f := range files {
			if now.Sub(f.ModTime) > p.maxAge {
				out[f.path] = "older than " + p.MaxAge
			}
		}
	}
	if p.KeepLast > 0 {
		byDir := map[string][]file{}
		for _, f := range files {
			byDir[path.Dir(f.path)] = append(byDir[path.Dir(f.path)], f)
		}
		for _, fs := range byDir {
			slices.SortFunc(fs, newestFirst)
			for _, f := range fs[min(p.KeepLast, len(fs)):] {
				if _, ok := out[f.path]; !ok {
					out[f.path] = "beyond the newest " + strconv.Itoa(p.KeepLast)
				}
			}
		}
	}
	if p.maxTotal > 0 {
		var kept []file
		var total int64
		for _, f := range files {
			if _, ok := out[f.path]; !ok {
				kept = append(kept, f)
				total += f.Size
			}
		}
		slices.SortFunc(kept, newestFirst)
		for i := len(kept) - 1; i >= 0 && total > p.maxTotal; i-- {
			out[kept[i].path] = "over max_total_size " + p.MaxTotalSize
			total -= kept[i].Size
		}
	}
	return out
}

// OnSchedule cleans every configured folder.
func (Rule) OnSchedule(ctx context.Context, h hostapi.Host, run hostapi.Run) error {
	p, err := load(ctx, h)
	if err != nil {
		return err
	}
	now := h.Now(ctx)
	var errs []error
	deleted, bytes := 0, int64(0)
	for _, dir := range p.Dirs {
		var files []file
		err := hostutil.Walk(ctx, h, p.Backend, dir, func(fp string, fi hostapi.FileInfo) error {
			if !fi.IsDir && !p.skipped(fp) {
				files = append(files, file{fp, fi})
			}
			return nil
		})
		if errors.Is(err, hostapi.ErrNotExist) {
			continue // nothing there yet
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("listing %s: %w", dir, err))
			continue
		}
		doomed := p.doomed(files, now)
		for _, f := range files {
			why, ok := doomed[f.path]
			if !ok {
				continue
			}
			if p.DryRun {
				hostutil.Logf(ctx, h, hostapi.LevelInfo, fmt.Sprintf("retention (dry run): would delete %s (%s)", f.path, why))
				continue
			}
			if err := h.Delete(ctx, p.Backend, f.path); err != nil && !errors.Is(err, hostapi.ErrNotExist) {
				errs = append(errs, fmt.Errorf("deleting %s: %w", f.path, err))
				continue
			}
			deleted++
			bytes += f.Size
		}
	}
	if deleted > 0 {
		hostutil.Logf(ctx, h, hostapi.LevelInfo, fmt.Sprintf("retention: deleted %d files, %d bytes", deleted, bytes))
	}
	return errors.Join(errs...)
}

// OnEvent does nothing: retention runs on its schedule.
func (Rule) OnEvent(context.Context, hostapi.Host, hostapi.Event) error { return nil }

// parseSize reads "123", "10KiB", "5MB", "2GiB", "1TiB".
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}} {
		if v, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(v), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q: want a positive size such as \"10GiB\" (units KiB, MiB, GiB, TiB, KB, MB, GB, TB)", s)
	}
	return n * mult, nil
}
