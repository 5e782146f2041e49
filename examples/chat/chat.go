// Package chat is an example rule plugin: it posts a one-line message about each event
// to a chat-style incoming webhook (Slack, Mattermost, Rocket.Chat, Teams connectors
// all accept {"text": "..."}).
//
//	[[rules]]
//	name = "notify"
//	plugin = ".ci/cache/plugins/chat.wasm"
//	events = ["file.uploaded", "file.deleted"]
//	allow = ["http:hooks.slack.com"]
//	config = { url = "https://hooks.slack.com/services/T000/B000/XXXX" }
package chat

import (
	"context"
	"encoding/json"
	"fmt"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// Rule is the chat notification rule.
type Rule struct{}

// Manifest implements hostapi.Plugin.
func (Rule) Manifest() hostapi.Manifest {
	return hostapi.Manifest{
		Name: "chat",
		Kind: hostapi.KindRule,
		Config: []hostapi.ConfigField{
			{Name: "url", Type: hostapi.ConfigString, Required: true, Doc: "the incoming webhook URL; grant its host with http:HOST"},
		},
	}
}

// Message is the one line posted for ev.
func Message(ev hostapi.Event) string {
	msg := fmt.Sprintf("%s %s", ev.Type, ev.Path)
	if ev.From != "" {
		msg += " (from " + ev.From + ")"
	}
	if ev.Size > 0 {
		msg += " · " + size(ev.Size)
	}
	if ev.Account != "" {
		msg += " · " + ev.Account
	}
	if ev.Protocol != "" {
		msg += " via " + ev.Protocol
	}
	return msg
}

func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// OnEvent posts the message; a non-2xx answer is an error, so the engine retries.
func (Rule) OnEvent(ctx context.Context, h hostapi.Host, ev hostapi.Event) error {
	var cfg struct {
		URL string `json:"url"`
	}
	if err := h.Config(ctx, &cfg); err != nil {
		return err
	}
	body, err := json.Marshal(map[string]string{"text": Message(ev)})
	if err != nil {
		return err
	}
	resp, err := h.HTTP(ctx, hostapi.HTTPRequest{Method: "POST", URL: cfg.URL, Body: body,
		Header: []hostapi.Header{{Name: "Content-Type", Value: "application/json"}}})
	if err != nil {
		return err
	}
	if resp.Status/100 != 2 {
		return fmt.Errorf("webhook answered %d: %.200s", resp.Status, resp.Body)
	}
	return nil
}

// OnSchedule does nothing.
func (Rule) OnSchedule(context.Context, hostapi.Host, hostapi.Run) error { return nil }
