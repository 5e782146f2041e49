package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/filegate/filegate/core/builtin"
	"github.com/filegate/filegate/core/config"
	"github.com/filegate/filegate/core/plugin"
	"github.com/filegate/filegate/core/vfs"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// authPlugin is one loaded [[auth]] plugin.
type authPlugin struct {
	*plugin.Plugin
	failOpen bool // on_error = "allow"
}

// authChain asks the [[auth]] plugins in gateway.toml order. A nil or empty chain
// abstains on every login and allows every operation. It implements vfs.Authorizer.
type authChain struct {
	plugins []authPlugin
	log     *slog.Logger
}

// openAuth loads every [[auth]] plugin; one that cannot load stops the gateway,
// naming its entry.
func (g *Gateway) openAuth(ctx context.Context) error {
	c := &authChain{log: g.Log.With("component", "auth")}
	for _, a := range g.Config.Auth {
		p, err := g.loadAuth(ctx, a)
		if err != nil {
			c.close(ctx)
			return fmt.Errorf("auth %q: %w", a.Name, err)
		}
		c.plugins = append(c.plugins, authPlugin{Plugin: p, failOpen: a.OnError == config.OnErrorAllow})
	}
	g.auth = c
	return nil
}

// loadAuth loads one [[auth]] plugin bound to its grants.
func (g *Gateway) loadAuth(ctx context.Context, a config.Auth) (*plugin.Plugin, error) {
	return g.loadPlugin(ctx, "entry", plugin.Options{
		Name: a.Name, Plugin: a.Plugin, Kind: hostapi.KindAuth, Allow: a.Allow, Config: a.Config,
		Builtin: builtin.Auth,
		Storage: func(name string) (hostapi.Storage, bool) {
			b, ok := g.backends[name]
			return b, ok
		},
		Limits: plugin.Limits{CallTimeout: a.Timeout.D()},
	})
}

// close stops every plugin of the chain.
func (c *authChain) close(ctx context.Context) error {
	if c == nil {
		return nil
	}
	var errs []error
	for _, p := range c.plugins {
		errs = append(errs, p.Close(ctx))
	}
	return errors.Join(errs...)
}

// authenticate asks the plugins about a login until one allows or denies it, and
// returns that answer and the plugin's name; VerdictAbstain when all abstain. A
// plugin that fails (an error, a timeout, an answer with bad overrides) denies the
// login, or is skipped when its on_error is "allow".
func (c *authChain) authenticate(ctx context.Context, login hostapi.Login) (hostapi.LoginResult, string) {
	if c == nil {
		return hostapi.LoginResult{Verdict: hostapi.VerdictAbstain}, ""
	}
	for _, p := range c.plugins {
		res, err := p.Authenticate(ctx, login)
		if err == nil {
			err = checkLoginResult(res)
		}
		if err != nil {
			c.log.Warn("auth plugin failed on a login", "plugin", p.Name(), "user", login.Username, "protocol", login.Protocol,
				"fail_open", p.failOpen, "err", err)
			if p.failOpen {
				continue
			}
			return hostapi.LoginResult{Verdict: hostapi.VerdictDeny, Reason: "the auth plugin failed (on_error = \"deny\")"}, p.Name()
		}
		if res.Verdict != hostapi.VerdictAbstain {
			return res, p.Name()
		}
	}
	return hostapi.LoginResult{Verdict: hostapi.VerdictAbstain}, ""
}

// checkLoginResult refuses a verdict or overrides the gateway cannot apply.
func checkLoginResult(res hostapi.LoginResult) error {
	switch res.Verdict {
	case hostapi.VerdictAbstain, hostapi.VerdictDeny:
		return nil
	case hostapi.VerdictAllow:
	default:
		return fmt.Errorf("unknown verdict %d: %w", res.Verdict, hostapi.ErrInvalid)
	}
	if res.Chroot != "" {
		if _, err := vfs.CleanPath(res.Chroot); err != nil {
			return fmt.Errorf("chroot override %q: %w", res.Chroot, err)
		}
	}
	if res.AccessRights != "" {
		if _, err := vfs.RightsFromAccess(res.AccessRights); err != nil {
			return fmt.Errorf("access rights override: %w", err)
		}
	}
	return nil
}

// Authorize implements vfs.Authorizer: every plugin must allow op. A refusal carries
// the plugin's reason; a plugin that fails refuses op, or is skipped when its
// on_error is "allow".
func (c *authChain) Authorize(ctx context.Context, op hostapi.Operation) error {
	for _, p := range c.plugins {
		dec, err := p.Authorize(ctx, op)
		if err != nil {
			c.log.Warn("auth plugin failed on an operation", "plugin", p.Name(), "action", op.Action, "path", op.Path,
				"account", op.Account, "fail_open", p.failOpen, "err", err)
			if p.failOpen {
				continue
			}
			return &vfs.RefusedError{Reason: op.Action + " refused: the policy check failed; try again later"}
		}
		if !dec.Allow {
			reason := dec.Reason
			if reason == "" {
				reason = op.Action + " refused by policy"
			}
			return &vfs.RefusedError{Reason: reason}
		}
	}
	return nil
}

// authorizer is what a session's FS asks, or nil without [[auth]] plugins.
func (g *Gateway) authorizer() vfs.Authorizer {
	if g.auth == nil || len(g.auth.plugins) == 0 {
		return nil
	}
	return g.auth
}

// PluginKV is the key-value store behind every plugin's kv host calls (rules and
// auth alike): the plugin_kv table of the gateway's store, shared by every node.
func (g *Gateway) PluginKV() plugin.KV { return g.Store.PluginKV() }
