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

// manifest declares the config table local.Open reads. "root" is a ConfigPath so that
// the host resolves a relative root against the folder of gateway.toml, as it does for
// the builtin local backend: this process runs in the gateway's working directory,
// which need not be that folder.
var manifest = hostapi.Manifest{
	Name: "local",
	Config: []hostapi.ConfigField{
		{Name: "root", Type: hostapi.ConfigPath, Required: true, Doc: "the folder holding the files (created if missing); relative to gateway.toml"},
		{Name: "sync", Type: hostapi.ConfigString, Doc: `"commit" (the default) flushes each upload before it becomes visible; "none" leaves flushing to the system`},
		{Name: "direct", Type: hostapi.ConfigBool, Doc: "true (the default) writes flushed uploads past the page cache with O_DIRECT; false through it"},
		{Name: "sweep_after", Type: hostapi.ConfigDuration, Doc: `SweepTemp spares upload files written to more recently than this, e.g. "1h"`},
	},
}

func init() { sdk.Serve(sdk.Storage(manifest, local.Open)) }

func main() {}
