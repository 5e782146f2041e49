package rules_test

import (
	"context"
	"testing"

	"github.com/filegate/filegate/conformance/plugintest"
	"github.com/filegate/filegate/core/builtin"
)

// TestConformance runs the plugin conformance kit on the first-party rule plugins in
// the builtin transport. The kit gives one memory backend, "default": the mirror
// copies into a folder of it.
func TestConformance(t *testing.T) {
	for name, cfg := range map[string]map[string]any{
		"webhook":   {"secret": "k"},
		"retention": {"max_age": "1h", "keep_last": 3},
		"mirror":    {"target": "default", "prefix": "/mirror", "delete": true},
	} {
		t.Run(name, func(t *testing.T) {
			failed := plugintest.Run(context.Background(), plugintest.Options{Plugin: name, Config: cfg, Builtin: builtin.Rule}, func(r plugintest.Result) {
				if r.Err != nil {
					t.Errorf("%s: %v", r.Case, r.Err)
				}
			})
			if failed > 0 {
				t.Fatalf("%d cases failed", failed)
			}
		})
	}
}
