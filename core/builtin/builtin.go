// Package builtin is the one place the core links first-party plugins: it maps plugin
// names in gateway.toml to the code that opens them.
package builtin

import (
	"fmt"
	"sort"
	"strings"

	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/azureblob"
	"github.com/filegate/filegate/plugins/storage/local"
	"github.com/filegate/filegate/plugins/storage/memory"
	"github.com/filegate/filegate/plugins/storage/s3"
)

// storages are the built-in storage plugins by name.
var storages = map[string]hostapi.Opener{
	"local":     local.Open,
	"memory":    memory.Open,
	"s3":        s3.Open,
	"azureblob": azureblob.Open,
}

// OpenStorage opens the built-in storage plugin name with its config table.
func OpenStorage(name string, config map[string]any) (hostapi.Storage, error) {
	open, ok := storages[name]
	if !ok {
		names := make([]string, 0, len(storages))
		for n := range storages {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("unknown storage plugin %q (built in: %s)", name, strings.Join(names, ", "))
	}
	return open(config)
}
