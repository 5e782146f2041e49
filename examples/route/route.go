// Package route is an example rule plugin: it moves each uploaded file whose name
// matches a pattern into a folder named after the upload's year, e.g. INV-0042.pdf →
// /invoices/2026/INV-0042.pdf.
//
//	[[rules]]
//	name = "invoices"
//	plugin = ".ci/cache/plugins/route.wasm"
//	events = ["file.uploaded"]
//	allow = ["storage:default", "log"]
//	config = { pattern = "INV-*.pdf", target = "/invoices/{YYYY}/" }
package route

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// Rule is the routing rule. The zero value is ready; its config comes from the host.
type Rule struct{}

// Config is the rule's config table.
type Config struct {
	Pattern string `json:"pattern"` // a path.Match pattern on the file name
	Target  string `json:"target"`  // the folder; {YYYY} and {MM} are the upload's year and month
	Backend string `json:"backend"` // the storage backend, "default" if empty
}

// Manifest implements hostapi.Plugin.
func (Rule) Manifest() hostapi.Manifest {
	return hostapi.Manifest{
		Name:         "route",
		Kind:         hostapi.KindRule,
		Capabilities: []string{hostapi.CapStorage("default"), hostapi.CapLog},
		Config: []hostapi.ConfigField{
			{Name: "pattern", Type: hostapi.ConfigString, Doc: `file name pattern, default "INV-*.pdf"`},
			{Name: "target", Type: hostapi.ConfigString, Doc: `target folder, default "/invoices/{YYYY}/"`},
			{Name: "backend", Type: hostapi.ConfigString, Doc: `storage backend, default "default"`},
		},
	}
}

func config(ctx context.Context, h hostapi.Host) (Config, error) {
	c := Config{Pattern: "INV-*.pdf", Target: "/invoices/{YYYY}/", Backend: "default"}
	if err := h.Config(ctx, &c); err != nil {
		return c, err
	}
	if _, err := path.Match(c.Pattern, ""); err != nil {
		return c, fmt.Errorf("config pattern %q: %w", c.Pattern, err)
	}
	return c, nil
}

// OnEvent moves a matching uploaded file. It is idempotent: a file already moved (a
// retried event) is no error.
func (Rule) OnEvent(ctx context.Context, h hostapi.Host, ev hostapi.Event) error {
	if ev.Type != hostapi.EventFileUploaded {
		return nil
	}
	c, err := config(ctx, h)
	if err != nil {
		return err
	}
	name := path.Base(ev.Path)
	if ok, _ := path.Match(c.Pattern, name); !ok {
		return nil
	}
	t := ev.Time
	if t.IsZero() {
		t = h.Now(ctx)
	}
	dir := strings.NewReplacer("{YYYY}", strconv.Itoa(t.Year()), "{MM}", fmt.Sprintf("%02d", t.Month())).Replace(c.Target)
	to := path.Join("/", dir, name)
	if to == ev.Path {
		return nil
	}
	err = h.Move(ctx, c.Backend, ev.Path, to)
	if errors.Is(err, hostapi.ErrNotExist) {
		if _, serr := h.Stat(ctx, c.Backend, to); serr == nil {
			return nil // moved by an earlier delivery
		}
	}
	if err != nil {
		return fmt.Errorf("moving %s to %s: %w", ev.Path, to, err)
	}
	h.Log(ctx, hostapi.LevelInfo, "routed "+ev.Path+" to "+to)
	return nil
}

// OnSchedule does nothing: the rule only reacts to uploads.
func (Rule) OnSchedule(context.Context, hostapi.Host, hostapi.Run) error { return nil }
