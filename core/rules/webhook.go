package rules

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/filegate/filegate/core/rules/trigger"
	"github.com/filegate/filegate/core/store"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// WebhookPlugin is the builtin plugin that serves webhooks.
const WebhookPlugin = "webhook"

// WebhookSpec makes the rule that serves an API-managed webhook: the builtin webhook
// plugin with the webhook's URL and secret, granted HTTP to the URL's host, for the
// webhook's tenant, events and path prefix, with limits lim.
func WebhookSpec(w store.Webhook, lim Limits) (Spec, error) {
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return Spec{}, fmt.Errorf("webhook %d: Url %q is not an absolute http(s) URL", w.ID, w.URL)
	}
	s := Spec{
		Name:     store.WebhookRule(w.ID),
		Plugin:   WebhookPlugin,
		Events:   w.Events,
		Tenants:  []int64{w.TenantID},
		Allow:    []string{hostapi.CapHTTP(u.Hostname())},
		Config:   map[string]any{"url": w.URL, "secret": w.Secret},
		Limits:   lim,
		Disabled: !w.Enabled,
	}
	if len(s.Events) == 0 {
		s.Events = hostapi.EventTypes
	}
	if p := strings.TrimSuffix(w.PathPrefix, "/"); p != "" {
		g, err := trigger.ParseGlob(escapeGlob(p) + "/**")
		if err != nil {
			return Spec{}, fmt.Errorf("webhook %d: PathPrefix %q: %w", w.ID, w.PathPrefix, err)
		}
		s.Paths = []trigger.Glob{g}
	}
	return s, nil
}

// escapeGlob quotes the characters path.Match treats specially.
func escapeGlob(p string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`).Replace(p)
}
