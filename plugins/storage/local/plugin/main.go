// Command plugin is the first-party local storage backend as a go-plugin executable
// (the process transport: `[[storage]] plugin = "./local"`), with the same config
// table as the builtin "local"; .ci/build-plugins.sh builds it for the conformance
// tests.
package main

import (
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/local"
	"github.com/filegate/filegate/sdk"
)

func init() { sdk.Serve(sdk.Storage(hostapi.Manifest{Name: "local"}, local.Open)) }

func main() {}
