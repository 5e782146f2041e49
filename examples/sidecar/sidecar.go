// Package sidecar is an example rule plugin: for each uploaded file it writes a JSON
// sidecar next to it (report.csv → report.csv.json) with the event's metadata.
//
//	[[rules]]
//	name = "sidecar"
//	plugin = ".ci/cache/plugins/sidecar.wasm"
//	events = ["file.uploaded"]
//	allow = ["storage:default"]
package sidecar

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// Suffix is appended to a file's path to name its sidecar.
const Suffix = ".json"

// Rule is the sidecar rule.
type Rule struct{}

// Manifest implements hostapi.Plugin.
func (Rule) Manifest() hostapi.Manifest {
	return hostapi.Manifest{
		Name:         "sidecar",
		Kind:         hostapi.KindRule,
		Capabilities: []string{hostapi.CapStorage("default")},
		Config: []hostapi.ConfigField{
			{Name: "backend", Type: hostapi.ConfigString, Doc: `storage backend, default "default"`},
		},
	}
}

// OnEvent writes the sidecar of an uploaded file; sidecars get none.
func (Rule) OnEvent(ctx context.Context, h hostapi.Host, ev hostapi.Event) error {
	if ev.Type != hostapi.EventFileUploaded || strings.HasSuffix(ev.Path, Suffix) {
		return nil
	}
	cfg := struct {
		Backend string `json:"backend"`
	}{Backend: "default"}
	if err := h.Config(ctx, &cfg); err != nil {
		return err
	}
	data, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		return err
	}
	if err := h.WriteFile(ctx, cfg.Backend, ev.Path+Suffix, append(data, '\n')); err != nil {
		return fmt.Errorf("writing the sidecar of %s: %w", ev.Path, err)
	}
	return nil
}

// OnSchedule does nothing.
func (Rule) OnSchedule(context.Context, hostapi.Host, hostapi.Run) error { return nil }
