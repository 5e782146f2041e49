// Package builtin is the one place the core links first-party plugins: it maps plugin
// names in gateway.toml to the code that opens them.
package builtin

import (
	"fmt"
	"sort"
	"strings"

	"github.com/filegate/filegate/examples/uploadpolicy"
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/rules/mirror"
	"github.com/filegate/filegate/plugins/rules/retention"
	"github.com/filegate/filegate/plugins/rules/webhook"
	"github.com/filegate/filegate/plugins/storage/azureblob"
	"github.com/filegate/filegate/plugins/storage/local"
	"github.com/filegate/filegate/plugins/storage/memory"
	"github.com/filegate/filegate/plugins/storage/s3"
	"github.com/filegate/filegate/sdk"
)

// storages are the built-in storage plugins by name.
var storages = map[string]hostapi.Opener{
	"local":     local.Open,
	"memory":    memory.Open,
	"s3":        s3.Open,
	"azureblob": azureblob.Open,
}

// rules are the built-in rule plugins by name.
var rules = map[string]hostapi.Rule{
	"webhook":   webhook.Rule{},
	"retention": retention.Rule{},
	"mirror":    mirror.Rule{},
}

// Rule returns the built-in rule plugin name (plugin.Options.Builtin).
func Rule(name string) (hostapi.Plugin, bool) {
	r, ok := rules[name]
	return r, ok
}

// auths are the built-in auth plugins by name.
var auths = map[string]hostapi.Auth{
	"uploadpolicy": uploadpolicy.Policy{},
}

// Auth returns the built-in auth plugin name (plugin.Options.Builtin for [[auth]]).
func Auth(name string) (hostapi.Plugin, bool) {
	a, ok := auths[name]
	return a, ok
}

// Storage returns the built-in storage plugin name (plugin.Options.Builtin for
// [[storage]], loaded with plugin.LoadStorage).
func Storage(name string) (hostapi.Plugin, bool) {
	open, ok := storages[name]
	if !ok {
		return nil, false
	}
	return sdk.Storage(hostapi.Manifest{Name: name}, open), true
}

// StorageNames lists the built-in storage plugins, sorted.
func StorageNames() []string {
	names := make([]string, 0, len(storages))
	for n := range storages {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// OpenStorage opens the built-in storage plugin name with its config table.
func OpenStorage(name string, config map[string]any) (hostapi.Storage, error) {
	open, ok := storages[name]
	if !ok {
		return nil, fmt.Errorf("unknown storage plugin %q (built in: %s)", name, strings.Join(StorageNames(), ", "))
	}
	return open(config)
}
