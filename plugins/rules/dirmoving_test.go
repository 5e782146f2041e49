package rules_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/filegate/filegate/core/builtin"
	"github.com/filegate/filegate/core/plugin"
	"github.com/filegate/filegate/core/plugin/wasmtest"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// TestWebhookDirMoving delivers a dir.moving event through the webhook rule in every
// transport: the JSON it POSTs carries done and total whether the rule is builtin, a
// .wasm module or a process (the two latter decode the event from its wire encoding).
func TestWebhookDirMoving(t *testing.T) {
	dir := pluginsDir(t)
	mod := filepath.Join(dir, "webhook.wasm")
	if err := wasmtest.Precompile(mod); err != nil {
		t.Fatal(err)
	}
	bodies := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies <- b
	}))
	defer srv.Close()
	ev := hostapi.Event{ID: 5, Type: hostapi.EventDirMoving, Protocol: "http", Account: "alice",
		Path: "/new", From: "/old", IsDir: true, Done: 100, Total: 340}
	for name, p := range map[string]string{"builtin": "webhook", "wasm": mod, "process": filepath.Join(dir, "webhook")} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			pl, err := plugin.Load(ctx, plugin.Options{Name: "hook", Plugin: p, Builtin: builtin.Rule,
				Allow: []string{"http:127.0.0.1"}, Config: map[string]any{"url": srv.URL}, CacheDir: wasmtest.CacheDir()})
			if err != nil {
				t.Fatal(err)
			}
			defer pl.Close(ctx)
			if err := pl.OnEvent(ctx, ev); err != nil {
				t.Fatal(err)
			}
			var got struct{ Done, Total int64 }
			if b := <-bodies; json.Unmarshal(b, &got) != nil || got.Done != ev.Done || got.Total != ev.Total {
				t.Fatalf("the webhook posted %s, want done %d and total %d", b, ev.Done, ev.Total)
			}
		})
	}
}
