// Package webhook is the first-party webhook rule plugin: it POSTs each event as JSON
// to a URL, signed with HMAC-SHA256, through the host's HTTP call. The gateway serves
// the webhooks of the Management API with it, and it works from gateway.toml too:
//
//	[[rules]]
//	name = "notify-erp"
//	plugin = "webhook"
//	events = ["file.uploaded"]
//	paths = ["/invoices/**"]
//	allow = ["http:erp.example.com"]
//	config = { url = "https://erp.example.com/filegate", secret = "s3cret", timeout = "10s" }
//
// Each request carries:
//
//	Content-Type: application/json
//	X-Filegate-Event: file.uploaded                the event type
//	X-Filegate-Delivery: 1234                      the event id: the same on every retry, to drop duplicates
//	X-Filegate-Signature: sha256=<hex>             HMAC-SHA256 of the body with the secret (when one is set)
//
// A response other than 2xx is an error, so the rules engine retries with backoff.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// Rule is the webhook rule. The zero value is ready; its config comes from the host.
type Rule struct{}

// Config is the rule's config table.
type Config struct {
	URL     string `json:"url"`     // where to POST
	Secret  string `json:"secret"`  // signs the body; "" sends no signature
	Timeout string `json:"timeout"` // per request, default 10s
}

// DefaultTimeout bounds one delivery when the config sets none.
const DefaultTimeout = 10 * time.Second

// Manifest implements hostapi.Plugin.
func (Rule) Manifest() hostapi.Manifest {
	return hostapi.Manifest{
		Name: "webhook",
		Kind: hostapi.KindRule,
		// The HTTP grant names the URL's host, which only the config knows.
		Config: []hostapi.ConfigField{
			{Name: "url", Type: hostapi.ConfigString, Required: true, Doc: "the http(s) URL events are POSTed to; grant its host with allow = [\"http:HOST\"]"},
			{Name: "secret", Type: hostapi.ConfigString, Doc: "HMAC-SHA256 key for X-Filegate-Signature"},
			{Name: "timeout", Type: hostapi.ConfigDuration, Doc: "per request, default 10s"},
		},
	}
}

// Sign returns the X-Filegate-Signature value of body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether signature is body's X-Filegate-Signature under secret,
// comparing in constant time. Receivers written in Go can use it.
func Verify(secret string, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(signature))
}

// OnEvent delivers one event.
func (Rule) OnEvent(ctx context.Context, h hostapi.Host, ev hostapi.Event) error {
	var c Config
	if err := h.Config(ctx, &c); err != nil {
		return err
	}
	u, err := url.Parse(c.URL)
	if err != nil || c.URL == "" {
		return fmt.Errorf("config url %q: want an absolute http(s) URL", c.URL)
	}
	timeout := DefaultTimeout
	if c.Timeout != "" {
		if timeout, err = time.ParseDuration(c.Timeout); err != nil || timeout <= 0 {
			return fmt.Errorf("config timeout %q: want a positive duration such as \"10s\"", c.Timeout)
		}
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encoding event %d: %w", ev.ID, err)
	}
	req := hostapi.HTTPRequest{Method: "POST", URL: c.URL, Body: body, Header: []hostapi.Header{
		{Name: "Content-Type", Value: "application/json"},
		{Name: "User-Agent", Value: "Filegate-Webhook/1"},
		{Name: "X-Filegate-Event", Value: ev.Type},
		{Name: "X-Filegate-Delivery", Value: strconv.FormatInt(ev.ID, 10)},
	}}
	if c.Secret != "" {
		req.Header = append(req.Header, hostapi.Header{Name: "X-Filegate-Signature", Value: Sign(c.Secret, body)})
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := h.HTTP(ctx, req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", u.Redacted(), err)
	}
	if resp.Status < 200 || resp.Status > 299 {
		snippet := resp.Body
		if len(snippet) > 200 {
			snippet = snippet[:200]
		}
		return fmt.Errorf("POST %s: the receiver answered %d: %q", u.Redacted(), resp.Status, snippet)
	}
	return nil
}

// OnSchedule does nothing: webhooks only react to events.
func (Rule) OnSchedule(context.Context, hostapi.Host, hostapi.Run) error { return nil }
