// Command plugin is the first-party s3 storage backend as a go-plugin executable
// (the process transport: `[[storage]] plugin = "./s3"`), with the same config
// table as the builtin "s3"; .ci/build-plugins.sh builds it for the conformance
// tests.
package main

import (
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/s3"
	"github.com/filegate/filegate/sdk"
)

func init() { sdk.Serve(sdk.Storage(hostapi.Manifest{Name: "s3"}, s3.Open)) }

func main() {}
