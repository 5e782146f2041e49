// Command plugin is the first-party mirror rule as a plugin: built with
// GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared it is a .wasm module, built
// normally a go-plugin executable. The gateway links the same rule in as the builtin
// "mirror"; .ci/build-plugins.sh builds both forms for the conformance tests.
package main

import (
	"github.com/filegate/filegate/plugins/rules/mirror"
	"github.com/filegate/filegate/sdk"
)

func init() { sdk.Serve(mirror.Rule{}) }

func main() {}
