// Command plugin is the first-party memory storage backend as a plugin: built with
// GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared it is a .wasm module, built
// normally a go-plugin executable. Either way the tree lives in the plugin's memory (in
// wasm, in its one instance) and is gone when the plugin restarts. The gateway links
// the same backend in as the builtin "memory"; .ci/build-plugins.sh builds both forms
// for the conformance tests and benchmarks.
package main

import (
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/memory"
	"github.com/filegate/filegate/sdk"
)

func init() { sdk.Serve(sdk.Storage(hostapi.Manifest{Name: "memory"}, memory.Open)) }

func main() {}
