package gateway

import (
	"context"
	"runtime/debug"
	"sort"
	"time"

	"github.com/filegate/filegate/core/httpapi"
)

// status describes this node for GET /overview: its listeners, its storage backends
// (each probed with a Stat of its root) and the addresses banned now.
func (g *Gateway) status(ctx context.Context) httpapi.Status {
	st := httpapi.Status{Version: "dev"}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		st.Version = bi.Main.Version
	}
	httpTLS := "off"
	if g.Config.HTTP.TLS {
		httpTLS = "on"
	}
	for _, l := range []struct{ name, listen, tls string }{
		{"http", g.Config.HTTP.Listen, httpTLS},
		{"ftp", g.Config.FTP.Listen, g.Config.FTP.TLS},
		{"sftp", g.Config.SFTP.Listen, "ssh"},
	} {
		addr := l.listen
		if a := g.Addr(l.name); a != nil {
			addr = a.String()
		}
		st.Listeners = append(st.Listeners, httpapi.Listener{Protocol: l.name, Addr: addr, TLS: l.tls})
	}
	plugins := map[string]string{"default": "local"}
	for _, s := range g.Config.Storage {
		plugins[s.Name] = s.Plugin
	}
	names := make([]string, 0, len(g.backends))
	for name := range g.backends {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := httpapi.StorageStatus{Name: name, Plugin: plugins[name], OK: true}
		cx, cancel := context.WithTimeout(ctx, 3*time.Second)
		if _, err := g.backends[name].Stat(cx, "/"); err != nil {
			s.OK, s.Error = false, err.Error()
		}
		cancel()
		st.Storage = append(st.Storage, s)
	}
	st.Bans = g.Guard.Bans()
	return st
}
