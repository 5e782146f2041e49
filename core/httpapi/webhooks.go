package httpapi

import (
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/filegate/filegate/core/auth"
	"github.com/filegate/filegate/core/store"
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/valyala/fasthttp"
)

// webhookRoutes registers /webhooks, as in the TrueFTP reference.
func (a *API) webhookRoutes() {
	r := &a.router
	r.add(&route{method: "GET", pattern: "/webhooks", tag: "webhooks", auth: true, scope: auth.ScopeWebhookRead, summary: "List webhooks",
		params: []param{{name: "limit"}, {name: "offset"}}, resp: list[webhookJSON]{}, h: a.listWebhooks})
	r.add(&route{method: "POST", pattern: "/webhooks", tag: "webhooks", auth: true, scope: auth.ScopeWebhookWrite, summary: "Create a webhook; events recorded from now on are POSTed to Url, signed with Secret",
		body: webhookInput{}, resp: webhookJSON{}, status: fasthttp.StatusCreated, h: a.createWebhook})
	r.add(&route{method: "GET", pattern: "/webhooks/{id}", tag: "webhooks", auth: true, scope: auth.ScopeWebhookRead, summary: "Get a webhook",
		resp: webhookJSON{}, h: a.getWebhook})
	r.add(&route{method: "PUT", pattern: "/webhooks/{id}", tag: "webhooks", auth: true, scope: auth.ScopeWebhookWrite, summary: "Update a webhook (fields left out keep their value)",
		body: webhookInput{}, resp: webhookJSON{}, h: a.updateWebhook})
	r.add(&route{method: "DELETE", pattern: "/webhooks/{id}", tag: "webhooks", auth: true, scope: auth.ScopeWebhookWrite, summary: "Delete a webhook and its deliveries log",
		resp: deletedJSON{}, h: a.deleteWebhook})
	r.add(&route{method: "GET", pattern: "/webhooks/{id}/deliveries", tag: "webhooks", auth: true, scope: auth.ScopeWebhookRead, summary: "Page a webhook's deliveries log (every attempt), newest first",
		params: []param{{name: "limit"}, {name: "offset"}}, resp: list[deliveryJSON]{}, h: a.listDeliveries})
}

// webhookInput creates or updates a webhook; on update, fields left out keep their value.
type webhookInput struct {
	Url        *string
	Events     *[]string // event types; empty for every type
	PathPrefix *string   // only events at or under this folder
	Secret     *string   // write-only; signs deliveries (X-Filegate-Signature)
	Enabled    *bool     // default true
}

// webhookJSON is a webhook as the Management API shows it; the secret never is.
type webhookJSON struct {
	Id         int64
	Url        string
	Events     []string
	PathPrefix string
	HasSecret  bool
	Enabled    bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

func toWebhookJSON(w store.Webhook) webhookJSON {
	return webhookJSON{Id: w.ID, Url: w.URL, Events: w.Events, PathPrefix: w.PathPrefix, HasSecret: w.Secret != "", Enabled: w.Enabled,
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
}

// deliveryJSON is one attempt to deliver an event to a webhook.
type deliveryJSON struct {
	Id         int64
	Delivery   string // the X-Filegate-Delivery header: the event id, the same on every retry
	RunId      int64  // the rule run (GET /rules/webhook:ID/runs) this attempt belongs to
	EventId    int64
	Path       string
	Attempt    int
	Time       time.Time
	StatusCode int // the receiver's answer; 0 when none came (connection refused, timeout)
	DurationMs int64
	Success    bool
	Error      string
}

// apply checks in and applies it to w.
func (in webhookInput) apply(w *store.Webhook) error {
	if in.Url != nil {
		w.URL = strings.TrimSpace(*in.Url)
	}
	u, err := url.Parse(w.URL)
	if w.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return errorf(fasthttp.StatusBadRequest, "Url %q: want an absolute http or https URL", w.URL)
	}
	if in.Events != nil {
		w.Events = []string{}
		for _, e := range *in.Events {
			if !validEventType(e) {
				return errorf(fasthttp.StatusBadRequest, "Events: unknown event type %q (want some of %s)", e, strings.Join(hostapi.EventTypes, ", "))
			}
			if !slices.Contains(w.Events, e) {
				w.Events = append(w.Events, e)
			}
		}
	}
	if in.PathPrefix != nil {
		p := strings.TrimSpace(*in.PathPrefix)
		if len(p) > 1 {
			p = strings.TrimSuffix(p, "/")
		}
		if p != "" && (!strings.HasPrefix(p, "/") || path.Clean(p) != p) {
			return errorf(fasthttp.StatusBadRequest, "PathPrefix %q: want a clean absolute folder such as \"/invoices\"", p)
		}
		w.PathPrefix = p
	}
	if in.Secret != nil {
		w.Secret = *in.Secret
	}
	if in.Enabled != nil {
		w.Enabled = *in.Enabled
	}
	return nil
}

func (a *API) listWebhooks(c *call) error {
	limit, offset, err := page(c.ctx)
	if err != nil {
		return err
	}
	hooks, total, err := a.opt.Store.Webhooks(c.cx, c.who.Tenant.ID, limit, offset)
	if err != nil {
		return err
	}
	out := list[webhookJSON]{Data: make([]webhookJSON, len(hooks)), Limit: limit, Offset: offset, Total: total}
	for i, w := range hooks {
		out.Data[i] = toWebhookJSON(w)
	}
	writeJSON(c.ctx, fasthttp.StatusOK, out)
	return nil
}

func (a *API) createWebhook(c *call) error {
	var in webhookInput
	if err := decodeJSON(c.ctx, a.opt.MaxJSONBody, &in); err != nil {
		return err
	}
	w := store.Webhook{TenantID: c.who.Tenant.ID, Events: []string{}, Enabled: true}
	if err := in.apply(&w); err != nil {
		return err
	}
	w, err := a.opt.Store.CreateWebhook(c.cx, w)
	if err != nil {
		return err
	}
	a.opt.Rules.WebhooksChanged()
	writeJSON(c.ctx, fasthttp.StatusCreated, toWebhookJSON(w))
	return nil
}

func (a *API) getWebhook(c *call) error {
	id, err := c.id()
	if err != nil {
		return err
	}
	w, err := a.opt.Store.Webhook(c.cx, c.who.Tenant.ID, id)
	if err != nil {
		return err
	}
	writeJSON(c.ctx, fasthttp.StatusOK, toWebhookJSON(w))
	return nil
}

func (a *API) updateWebhook(c *call) error {
	id, err := c.id()
	if err != nil {
		return err
	}
	var in webhookInput
	if err := decodeJSON(c.ctx, a.opt.MaxJSONBody, &in); err != nil {
		return err
	}
	w, err := a.opt.Store.Webhook(c.cx, c.who.Tenant.ID, id)
	if err != nil {
		return err
	}
	if err := in.apply(&w); err != nil {
		return err
	}
	if w, err = a.opt.Store.UpdateWebhook(c.cx, w); err != nil {
		return err
	}
	a.opt.Rules.WebhooksChanged()
	writeJSON(c.ctx, fasthttp.StatusOK, toWebhookJSON(w))
	return nil
}

func (a *API) deleteWebhook(c *call) error {
	id, err := c.id()
	if err != nil {
		return err
	}
	if err := a.opt.Store.DeleteWebhook(c.cx, c.who.Tenant.ID, id); err != nil {
		return err
	}
	a.opt.Rules.WebhooksChanged()
	writeJSON(c.ctx, fasthttp.StatusOK, deletedJSON{Deleted: true})
	return nil
}

func (a *API) listDeliveries(c *call) error {
	id, err := c.id()
	if err != nil {
		return err
	}
	if _, err := a.opt.Store.Webhook(c.cx, c.who.Tenant.ID, id); err != nil {
		return err
	}
	limit, offset, err := page(c.ctx)
	if err != nil {
		return err
	}
	atts, total, err := a.opt.Store.Attempts(c.cx, store.WebhookRule(id), limit, offset)
	if err != nil {
		return err
	}
	out := list[deliveryJSON]{Data: make([]deliveryJSON, len(atts)), Limit: limit, Offset: offset, Total: total}
	for i, at := range atts {
		out.Data[i] = deliveryJSON{Id: at.ID, Delivery: fmt.Sprint(at.EventID), RunId: at.RunID, EventId: at.EventID, Path: at.Path, Attempt: at.Attempt,
			Time: at.StartedAt, StatusCode: at.StatusCode, DurationMs: at.DurationMs, Success: at.Error == "", Error: at.Error}
	}
	writeJSON(c.ctx, fasthttp.StatusOK, out)
	return nil
}
