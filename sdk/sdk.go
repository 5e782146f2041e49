// Package sdk is what a Filegate plugin author imports. A plugin is a Go type that
// implements one kind's interface from hostapi (Rule, Auth, StoragePlugin) and hands
// itself to Serve from an init function:
//
//	package main
//
//	import (
//		"context"
//
//		hostapi "github.com/filegate/filegate/hostapi/v1"
//		"github.com/filegate/filegate/sdk"
//	)
//
//	type Hello struct{}
//
//	func (Hello) Manifest() hostapi.Manifest {
//		return hostapi.Manifest{Name: "hello", Kind: hostapi.KindRule, Capabilities: []string{hostapi.CapLog}}
//	}
//
//	func (Hello) OnEvent(ctx context.Context, h hostapi.Host, ev hostapi.Event) error {
//		return h.Log(ctx, hostapi.LevelInfo, "hello, "+ev.Path)
//	}
//
//	func (Hello) OnSchedule(context.Context, hostapi.Host, hostapi.Run) error { return nil }
//
//	func init() { sdk.Serve(Hello{}) }
//
//	func main() {} // required by the toolchain; Serve does the work
//
// The same source builds both ways:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o hello.wasm .   # plugin = "hello.wasm"
//	go build -o hello .                                                     # plugin = "./hello"
//
// In a WASM build Serve registers the plugin behind the module's exports and returns
// (a c-shared module never runs main); in a native build it serves the plugin over
// go-plugin until the gateway ends the process, then exits. The same value can be
// linked into the gateway as a builtin plugin, and tested in-process with
// core/plugin's builtin transport.
//
// A storage plugin serves a hostapi.Storage. Storage wraps a backend's Opener, which
// receives the operator's `[[storage]] config` table when the gateway first uses the
// storage:
//
//	package main
//
//	import (
//		hostapi "github.com/filegate/filegate/hostapi/v1"
//		"github.com/filegate/filegate/plugins/storage/memory"
//		"github.com/filegate/filegate/sdk"
//	)
//
//	func init() { sdk.Serve(sdk.Storage(hostapi.Manifest{Name: "memory"}, memory.Open)) }
//
//	func main() {}
//
// and runs as `[[storage]] plugin = "./memory"` (or "memory.wasm"). The gateway reads
// and writes files through it in chunks of 64 KiB to 1 MiB, never a whole file at
// once. Over wasm a storage plugin runs in one instance, which keeps its open files:
// calls run one at a time, and a trap or a missed deadline replaces the instance and
// with it everything the plugin kept in memory.
//
// A plugin acts only through the hostapi.Host it is handed; each host call needs the
// grant the operator gives in gateway.toml (`allow = [...]`). See hostapi/v1/ABI.md for
// the contract underneath.
package sdk

import (
	"context"

	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/hostapi/v1/wire"
)

// Check reports whether p implements a kind Filegate can serve over the WASM and
// process transports (Rule, Auth or StoragePlugin), matching the kind its manifest
// declares.
func Check(p hostapi.Plugin) error {
	m := p.Manifest()
	var ok bool
	switch m.Kind {
	case hostapi.KindRule:
		_, ok = p.(hostapi.Rule)
	case hostapi.KindAuth:
		_, ok = p.(hostapi.Auth)
	case hostapi.KindStorage:
		_, ok = p.(hostapi.StoragePlugin)
	}
	if !ok {
		return &kindError{m}
	}
	return nil
}

type kindError struct{ m hostapi.Manifest }

func (e *kindError) Error() string {
	return "sdk: plugin " + e.m.Name + " declares kind " + string(e.m.Kind) +
		" but does not implement hostapi.Rule (kind rule), hostapi.Auth (kind auth) or hostapi.StoragePlugin (kind storage)"
}

// handler returns what serves the calls of p over either transport.
func handler(p hostapi.Plugin) func(ctx context.Context, host hostapi.Host, m wire.Method, req []byte) []byte {
	if sp, ok := p.(hostapi.StoragePlugin); ok {
		return wire.NewStorageServer(sp).Serve
	}
	return func(ctx context.Context, host hostapi.Host, m wire.Method, req []byte) []byte {
		return wire.Serve(ctx, p, host, m, req)
	}
}

// Storage returns the storage plugin of a backend: its manifest (Kind is set to
// storage, Name must be set) and open, which builds the backend from the operator's
// `[[storage]] config` table, as a builtin backend's Opener does.
func Storage(m hostapi.Manifest, open hostapi.Opener) hostapi.StoragePlugin {
	m.Kind = hostapi.KindStorage
	return storagePlugin{m, open}
}

type storagePlugin struct {
	m    hostapi.Manifest
	open hostapi.Opener
}

func (s storagePlugin) Manifest() hostapi.Manifest { return s.m }

func (s storagePlugin) OpenStorage(_ context.Context, config map[string]any) (hostapi.Storage, error) {
	return s.open(config)
}
