package httpapi

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/filegate/filegate/core/auth"
	"github.com/filegate/filegate/core/rules"
	"github.com/filegate/filegate/core/store"
	"github.com/valyala/fasthttp"
)

// RuleEngine is what /rules and /webhooks need of the rules engine.
type RuleEngine interface {
	// Rules lists the gateway.toml rules.
	Rules() []rules.Info
	// Retry puts a failed run back in its rule's queue.
	Retry(ctx context.Context, name string, id int64) (store.Run, error)
	// WebhooksChanged tells the engine the webhooks changed.
	WebhooksChanged()
}

// ruleRoutes registers /rules: reading needs event.read (runs are what became of
// events); retrying a run changes automation, as webhook.write does for webhooks.
func (a *API) ruleRoutes() {
	r := &a.router
	r.add(&route{method: "GET", pattern: "/rules", tag: "rules", auth: true, scope: auth.ScopeEventRead, summary: "List the automation rules of gateway.toml with their runs by status",
		resp: list[ruleJSON]{}, h: a.listRules})
	r.add(&route{method: "GET", pattern: "/rules/{name}/runs", tag: "rules", auth: true, scope: auth.ScopeEventRead, summary: "Page a rule's runs, newest first (webhook:ID names a webhook's rule)",
		params: []param{{name: "limit"}, {name: "offset"}, {name: "status", desc: "pending, running, done or failed"}}, resp: list[runJSON]{}, h: a.listRuns})
	r.add(&route{method: "POST", pattern: "/rules/{name}/runs/{id}/retry", tag: "rules", auth: true, scope: auth.ScopeWebhookWrite, summary: "Queue a failed run again with a fresh count of attempts",
		resp: runJSON{}, h: a.retryRun})
}

// ruleJSON is a rule as the Management API shows it. Its config is not shown: it may
// hold secrets.
type ruleJSON struct {
	Name        string
	Plugin      string
	Events      []string
	Paths       []string
	Schedule    string
	MaxAttempts int
	TimeoutMs   int64
	Concurrency int
	Runs        map[string]int // by status: pending, running, done, failed
}

// runJSON is one run of a rule.
type runJSON struct {
	Id        int64
	Rule      string
	EventId   int64  // 0 for a scheduled run
	Path      string // the event's path
	DueAt     time.Time
	Status    string
	Attempts  int
	NextAt    *time.Time `json:",omitempty"` // when a pending run is tried next
	LastError string
	CreatedAt time.Time
	UpdatedAt time.Time
}

func toRunJSON(r store.Run) runJSON {
	out := runJSON{Id: r.ID, Rule: r.Rule, EventId: r.EventID, Path: r.Path, DueAt: r.DueAt, Status: r.Status, Attempts: r.Attempts,
		LastError: r.LastError, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if r.Status == store.RunPending {
		t := r.NextAt
		out.NextAt = &t
	}
	return out
}

func (a *API) listRules(c *call) error {
	infos := a.opt.Rules.Rules()
	out := list[ruleJSON]{Data: make([]ruleJSON, 0, len(infos)), Limit: len(infos), Total: len(infos)}
	for _, in := range infos {
		counts, err := a.opt.Store.RunCounts(c.cx, in.Name, c.who.Tenant.ID)
		if err != nil {
			return err
		}
		out.Data = append(out.Data, ruleJSON{Name: in.Name, Plugin: in.Plugin, Events: in.Events, Paths: in.Paths, Schedule: in.Schedule,
			MaxAttempts: in.Limits.MaxAttempts, TimeoutMs: in.Limits.Timeout.Milliseconds(), Concurrency: in.Limits.Concurrency, Runs: counts})
	}
	writeJSON(c.ctx, fasthttp.StatusOK, out)
	return nil
}

// ruleName resolves {name}: a gateway.toml rule, or webhook:ID of the caller's tenant.
func (a *API) ruleName(c *call) (string, error) {
	name := c.params["name"]
	if idText, ok := strings.CutPrefix(name, "webhook:"); ok {
		id, err := strconv.ParseInt(idText, 10, 64)
		if err != nil {
			return "", errorf(fasthttp.StatusNotFound, "no rule named %q", name)
		}
		if _, err := a.opt.Store.Webhook(c.cx, c.who.Tenant.ID, id); err != nil {
			return "", err
		}
		return name, nil
	}
	for _, in := range a.opt.Rules.Rules() {
		if in.Name == name {
			return name, nil
		}
	}
	return "", errorf(fasthttp.StatusNotFound, "no rule named %q in gateway.toml", name)
}

func (a *API) listRuns(c *call) error {
	name, err := a.ruleName(c)
	if err != nil {
		return err
	}
	limit, offset, err := page(c.ctx)
	if err != nil {
		return err
	}
	status := string(c.ctx.QueryArgs().Peek("status"))
	switch status {
	case "", store.RunPending, store.RunRunning, store.RunDone, store.RunFailed:
	default:
		return errorf(fasthttp.StatusBadRequest, "status %q: want pending, running, done or failed", status)
	}
	runs, total, err := a.opt.Store.Runs(c.cx, store.RunFilter{Rule: name, TenantID: c.who.Tenant.ID, Status: status, Limit: limit, Offset: offset})
	if err != nil {
		return err
	}
	out := list[runJSON]{Data: make([]runJSON, len(runs)), Limit: limit, Offset: offset, Total: total}
	for i, r := range runs {
		out.Data[i] = toRunJSON(r)
	}
	writeJSON(c.ctx, fasthttp.StatusOK, out)
	return nil
}

func (a *API) retryRun(c *call) error {
	name, err := a.ruleName(c)
	if err != nil {
		return err
	}
	id, err := c.id()
	if err != nil {
		return err
	}
	run, err := a.opt.Store.Run(c.cx, name, id)
	if err != nil {
		return err
	}
	if run.TenantID != 0 && run.TenantID != c.who.Tenant.ID {
		return fmt.Errorf("run %d of rule %q: %w", id, name, store.ErrNotFound)
	}
	if run, err = a.opt.Rules.Retry(c.cx, name, id); err != nil {
		return err
	}
	writeJSON(c.ctx, fasthttp.StatusOK, toRunJSON(run))
	return nil
}
