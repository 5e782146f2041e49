package gateway

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/filegate/filegate/core/builtin"
	"github.com/filegate/filegate/core/config"
	"github.com/filegate/filegate/core/plugin"
	"github.com/filegate/filegate/core/rules"
	"github.com/filegate/filegate/core/rules/trigger"
	"github.com/filegate/filegate/core/store"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// webhookLimits are the limits of the rules serving API-managed webhooks.
var webhookLimits = rules.Limits{MaxAttempts: 6, Timeout: 15 * time.Second, Concurrency: 4, Backoff: time.Second}

// openRules loads every [[rules]] plugin (a rule that cannot load stops the gateway,
// naming the rule) and prepares the rules engine, which Run starts.
//
// gateway.toml rules see the events of the tenants whose storage root is "/", and
// their storage host calls record events for the first such tenant of each backend
// (see rules.RecordingStorage); webhooks see their own tenant's events.
func (g *Gateway) openRules(ctx context.Context) error {
	tenants, err := g.Store.Tenants(ctx)
	if err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	g.rootTenant = map[string]int64{}
	var roots []int64
	for _, t := range tenants {
		if t.StorageRoot != "/" {
			continue
		}
		roots = append(roots, t.ID)
		if _, ok := g.rootTenant[t.Storage]; !ok {
			g.rootTenant[t.Storage] = t.ID
		}
	}
	specs := make([]rules.Spec, 0, len(g.Config.Rules))
	for _, r := range g.Config.Rules {
		s, err := ruleSpec(r, roots)
		if err != nil {
			return err
		}
		specs = append(specs, s)
	}
	g.rules, err = rules.New(ctx, rules.Options{
		Store: g.Store, Load: g.loadRule, Log: g.Log,
		Webhooks: func(w store.Webhook) (rules.Spec, error) { return rules.WebhookSpec(w, webhookLimits) },
	}, specs)
	return err
}

// ruleSpec turns a validated [[rules]] entry into the engine's form.
func ruleSpec(r config.Rule, tenants []int64) (rules.Spec, error) {
	lim := r.Limits.WithDefaults()
	s := rules.Spec{Name: r.Name, Plugin: r.Plugin, Events: r.Events, Tenants: tenants, Allow: r.Allow, Config: r.Config,
		Limits: rules.Limits{MaxAttempts: lim.MaxAttempts, Timeout: lim.Timeout.D(), Concurrency: lim.Concurrency, Backoff: lim.Backoff.D()}}
	for _, p := range r.Paths {
		g, err := trigger.ParseGlob(p)
		if err != nil {
			return s, fmt.Errorf("rule %q: paths: %w", r.Name, err)
		}
		s.Paths = append(s.Paths, g)
	}
	if r.Schedule != "" {
		sched, err := trigger.ParseSchedule(r.Schedule, time.Local)
		if err != nil {
			return s, fmt.Errorf("rule %q: schedule: %w", r.Name, err)
		}
		s.Schedule = sched
	}
	return s, nil
}

// loadRule loads a rule's plugin bound to its grants. Its storage calls go to the
// gateway's backends, recording events for the backend's root tenant; its HTTP calls
// report their status to the run's attempts log.
func (g *Gateway) loadRule(ctx context.Context, spec rules.Spec) (rules.Runner, error) {
	p, err := g.loadPlugin(ctx, "rule", plugin.Options{
		Name: spec.Name, Plugin: spec.Plugin, Kind: hostapi.KindRule, Allow: spec.Allow, Config: spec.Config,
		Builtin: builtin.Rule,
		Storage: func(name string) (hostapi.Storage, bool) {
			b, ok := g.backends[name]
			if !ok {
				return nil, false
			}
			if tenant, ok := g.rootTenant[name]; ok {
				return rules.RecordingStorage(b, g.Store, tenant, spec.Name), true
			}
			return b, true
		},
		HTTPClient: &http.Client{Transport: rules.Transport(nil), Timeout: spec.Limits.Timeout},
		Limits:     plugin.Limits{CallTimeout: spec.Limits.Timeout},
	})
	if err != nil {
		return nil, err // not a nil *plugin.Plugin inside a non-nil Runner
	}
	return p, nil
}

// Rules is the rules engine.
func (g *Gateway) Rules() *rules.Engine { return g.rules }
