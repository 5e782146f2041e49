// Package mirror is the first-party mirroring rule plugin: it copies each uploaded or
// moved file of the default backend to a target backend, streaming through the host's
// Copy, and verifies the copy's size (and its SHA-256 when the file is small enough to
// read back cheaply). Optionally it propagates deletions. A scheduled run (resync)
// copies whatever the target is missing or has at another size.
//
//	[[storage]]
//	name = "offsite"
//	plugin = "s3"
//	config = { ... }
//
//	[[rules]]
//	name = "mirror"
//	plugin = "mirror"
//	events = ["file.uploaded", "file.moved", "file.deleted", "dir.deleted"]
//	schedule = "@every 24h"      # optional resync
//	allow = ["storage:default", "storage:offsite"]
//	config = { target = "offsite", prefix = "/site-a", delete = true }
//
// Every action is idempotent, so the engine's at-least-once delivery is safe.
package mirror

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/rules/internal/hostutil"
)

// Source is the backend mirrored: the one the events describe.
const Source = "default"

// VerifyLimit is the largest file whose SHA-256 is checked by reading the copy back.
const VerifyLimit = 16 << 20

// Rule is the mirror rule. The zero value is ready; its config comes from the host.
type Rule struct{}

// Config is the rule's config table.
type Config struct {
	Target string `json:"target"` // a [[storage]] name, granted as storage:<target>
	Prefix string `json:"prefix"` // folder on the target; "" mirrors to the same paths
	Delete bool   `json:"delete"` // propagate deletions and the old side of moves
}

// Manifest implements hostapi.Plugin.
func (Rule) Manifest() hostapi.Manifest {
	return hostapi.Manifest{
		Name:         "mirror",
		Kind:         hostapi.KindRule,
		Capabilities: []string{hostapi.CapStorage(Source)},
		Config: []hostapi.ConfigField{
			{Name: "target", Type: hostapi.ConfigString, Required: true, Doc: "the [[storage]] backend to copy to; grant it as storage:NAME"},
			{Name: "prefix", Type: hostapi.ConfigString, Doc: "folder on the target, default the same paths"},
			{Name: "delete", Type: hostapi.ConfigBool, Doc: "propagate deletions, default false"},
		},
	}
}

func load(ctx context.Context, h hostapi.Host) (Config, error) {
	var c Config
	if err := h.Config(ctx, &c); err != nil {
		return c, err
	}
	if c.Target == "" {
		return c, errors.New("config target: name the [[storage]] backend to mirror to")
	}
	if c.Prefix != "" {
		if !strings.HasPrefix(c.Prefix, "/") {
			return c, fmt.Errorf("config prefix %q: want an absolute folder such as \"/mirror\"", c.Prefix)
		}
		c.Prefix = path.Clean(c.Prefix)
	}
	if c.Target == Source && (c.Prefix == "" || c.Prefix == "/") {
		return c, errors.New("config: mirroring the default backend onto itself needs a prefix")
	}
	return c, nil
}

// dst is where p goes on the target.
func (c Config) dst(p string) string { return path.Join("/", c.Prefix, p) }

// own reports whether p is the mirror's own output (a target inside the source).
func (c Config) own(p string) bool {
	return c.Target == Source && (p == c.Prefix || strings.HasPrefix(p, c.Prefix+"/"))
}

// OnEvent mirrors one change.
func (Rule) OnEvent(ctx context.Context, h hostapi.Host, ev hostapi.Event) error {
	c, err := load(ctx, h)
	if err != nil || c.own(ev.Path) {
		return err
	}
	switch ev.Type {
	case hostapi.EventFileUploaded:
		return copyFile(ctx, h, c, ev.Path, ev.SHA256, ev.Size)
	case hostapi.EventDirCreated:
		return h.Mkdir(ctx, c.Target, c.dst(ev.Path))
	case hostapi.EventFileMoved:
		if ev.IsDir {
			err = resync(ctx, h, c, ev.Path)
		} else {
			err = copyFile(ctx, h, c, ev.Path, "", -1)
		}
		if err != nil || !c.Delete || ev.From == "" || c.own(ev.From) {
			return err
		}
		return hostutil.RemoveAll(ctx, h, c.Target, c.dst(ev.From))
	case hostapi.EventFileDeleted, hostapi.EventDirDeleted:
		if !c.Delete {
			return nil
		}
		return hostutil.RemoveAll(ctx, h, c.Target, c.dst(ev.Path))
	}
	return nil
}

// OnSchedule (resync) copies every file the target lacks or has at another size.
func (Rule) OnSchedule(ctx context.Context, h hostapi.Host, run hostapi.Run) error {
	c, err := load(ctx, h)
	if err != nil {
		return err
	}
	return resync(ctx, h, c, "/")
}

// resync copies what is missing under dir.
func resync(ctx context.Context, h hostapi.Host, c Config, dir string) error {
	var errs []error
	copied, total := 0, 0
	err := hostutil.Walk(ctx, h, Source, dir, func(p string, fi hostapi.FileInfo) error {
		if c.own(p) {
			return hostutil.ErrSkipDir
		}
		if fi.IsDir {
			return nil
		}
		total++
		have, err := h.Stat(ctx, c.Target, c.dst(p))
		if err == nil && !have.IsDir && have.Size == fi.Size {
			return nil
		}
		if err := copyFile(ctx, h, c, p, "", -1); err != nil {
			errs = append(errs, err)
			return ctx.Err() // stop on cancellation, go on past one bad file
		}
		copied++
		return nil
	})
	if errors.Is(err, hostapi.ErrNotExist) && dir != "/" {
		return nil // moved away again since
	}
	if err != nil {
		errs = append(errs, err)
	}
	if copied > 0 {
		hostutil.Logf(ctx, h, hostapi.LevelInfo, fmt.Sprintf("mirror: resync of %s copied %d of %d files", dir, copied, total))
	}
	if len(errs) > 0 {
		return fmt.Errorf("resync of %s: %d failures, the first: %w", dir, len(errs), errs[0])
	}
	return nil
}

// copyFile copies p to the target and verifies the copy. sum and size describe the
// version an event announced ("" and -1 when unknown). A file gone from the source is
// no error: the deletion's own event follows.
func copyFile(ctx context.Context, h hostapi.Host, c Config, p, sum string, size int64) error {
	src, err := h.Stat(ctx, Source, p)
	if errors.Is(err, hostapi.ErrNotExist) {
		return nil
	}
	if err != nil || src.IsDir {
		return err
	}
	dst := c.dst(p)
	if err := h.Copy(ctx, Source, p, c.Target, dst); err != nil {
		// Done only if the source itself is gone (its deletion is an event of its
		// own); a copy that failed on the target side is retried.
		if _, serr := h.Stat(ctx, Source, p); errors.Is(err, hostapi.ErrNotExist) && errors.Is(serr, hostapi.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("copying %s to %s:%s: %w", p, c.Target, dst, err)
	}
	got, err := h.Stat(ctx, c.Target, dst)
	if err != nil {
		return fmt.Errorf("checking the copy %s:%s: %w", c.Target, dst, err)
	}
	if got.Size != src.Size {
		if now, err := h.Stat(ctx, Source, p); err == nil && now.Size == src.Size {
			return fmt.Errorf("the copy %s:%s has %d bytes, the source %s %d", c.Target, dst, got.Size, p, src.Size)
		}
		return nil // the source changed while copying: its new event copies it again
	}
	if sum == "" || size != src.Size || size > VerifyLimit {
		return nil
	}
	gotSum, err := hostutil.SHA256(ctx, h, c.Target, dst)
	if err != nil {
		return fmt.Errorf("reading back the copy %s:%s: %w", c.Target, dst, err)
	}
	if gotSum == sum {
		return nil
	}
	// The event's version may have been replaced since; compare with the source now.
	srcSum, err := hostutil.SHA256(ctx, h, Source, p)
	if err != nil || srcSum != gotSum {
		return fmt.Errorf("the copy %s:%s does not match %s (SHA-256 %s, want %s)", c.Target, dst, p, gotSum, srcSum)
	}
	return nil
}
