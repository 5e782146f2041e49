package gateway

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/filegate/filegate/core/plugin"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// loadPlugin loads a rule or auth plugin for the gateway.toml entry opts.Name: it checks
// that every storage grant names a backend, resolves a plugin path against the config
// file, fills in what every plugin gets (the store-backed KV, a logger, the compilation
// cache) and refuses a plugin that needs a grant the entry does not give. entry names
// the kind of entry in errors ("rule", "entry").
func (g *Gateway) loadPlugin(ctx context.Context, entry string, opts plugin.Options) (*plugin.Plugin, error) {
	for _, c := range opts.Allow {
		if kind, name, _ := hostapi.ParseCapability(c); kind == "storage" && g.backends[name] == nil {
			return nil, fmt.Errorf("allow: %q: no [[storage]] is named %q", c, name)
		}
	}
	if plugin.TransportOf(opts.Plugin) != plugin.Builtin {
		opts.Plugin = g.Config.Resolve(opts.Plugin)
	}
	opts.KV = g.PluginKV()
	opts.Logger = g.Log.With(string(opts.Kind), opts.Name)
	opts.CacheDir = filepath.Join(g.Config.DataPath(), "plugin-cache")
	opts.ConfigDir = filepath.Dir(g.Config.Path())
	p, err := plugin.Load(ctx, opts)
	if err != nil {
		return nil, err
	}
	if missing := p.MissingGrants(); len(missing) > 0 {
		p.Close(ctx)
		return nil, fmt.Errorf("allow: the plugin needs %q: add it to the %s's allow list", missing, entry)
	}
	return p, nil
}
