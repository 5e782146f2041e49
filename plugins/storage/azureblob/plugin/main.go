// Command plugin is the first-party azureblob storage backend as a go-plugin executable
// (the process transport: `[[storage]] plugin = "./azureblob"`), with the same config
// table as the builtin "azureblob"; .ci/build-plugins.sh builds it for the conformance
// tests.
package main

import (
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/azureblob"
	"github.com/filegate/filegate/sdk"
)

func init() { sdk.Serve(sdk.Storage(hostapi.Manifest{Name: "azureblob"}, azureblob.Open)) }

func main() {}
