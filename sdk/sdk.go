// Package sdk is what a Filegate plugin author imports. A plugin is a Go type that
// implements one kind's interface from hostapi (Rule, Auth) and hands itself to
// Serve from an init function:
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
// A plugin acts only through the hostapi.Host it is handed; each host call needs the
// grant the operator gives in gateway.toml (`allow = [...]`). See hostapi/v1/ABI.md for
// the contract underneath.
package sdk

import (
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// Check reports whether p implements a kind Filegate can serve over the WASM and
// process transports (Rule or Auth), matching the kind its manifest declares.
func Check(p hostapi.Plugin) error {
	m := p.Manifest()
	var ok bool
	switch m.Kind {
	case hostapi.KindRule:
		_, ok = p.(hostapi.Rule)
	case hostapi.KindAuth:
		_, ok = p.(hostapi.Auth)
	default:
		return &kindError{m}
	}
	if !ok {
		return &kindError{m}
	}
	return nil
}

type kindError struct{ m hostapi.Manifest }

func (e *kindError) Error() string {
	return "sdk: plugin " + e.m.Name + " declares kind " + string(e.m.Kind) +
		" but does not implement hostapi.Rule (kind rule) or hostapi.Auth (kind auth)"
}
