// Command plugin is the uploadpolicy example as a plugin: built with
// GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared it is a .wasm module, built
// normally a go-plugin executable.
package main

import (
	"github.com/filegate/filegate/examples/uploadpolicy"
	"github.com/filegate/filegate/sdk"
)

func init() { sdk.Serve(uploadpolicy.Policy{}) }

func main() {}
