package plugin

import (
	"context"
	"encoding/json"
	"io"
	"reflect"
	"testing"
	"time"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// TestEventFieldsCrossTransports sends a dir.moving event with every field set to the
// hostile guest, as a wasm module and as a process, whose /echo case writes the event
// it decoded back to the default backend: each field, Done and Total (host API 1.2)
// included, must arrive as sent. A guest declaring host API 1.1, as one built before
// 1.2 does, is still served.
func TestEventFieldsCrossTransports(t *testing.T) {
	sent := hostapi.Event{
		ID: 77, Time: time.Unix(1750000000, 42).UTC(), Type: hostapi.EventDirMoving, Protocol: "sftp",
		Account: "alice", Path: "/echo", From: "/old", Size: 12, SHA256: "ff00", RemoteAddr: "10.0.0.1:2222",
		IsDir: true, Done: 250, Total: 1000,
	}
	for _, c := range []struct{ name, plugin string }{
		{"wasm", guests.hostile},
		{"process", guests.native},
		{"process-1.1", guests.nativeV11},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := testOptions(t, c.plugin, "storage:default")
			p := mustLoad(t, opts)
			ctx := context.Background()
			if err := p.OnEvent(ctx, sent); err != nil {
				t.Fatal(err)
			}
			def, _ := opts.Storage("default")
			r, err := def.Open(ctx, "/out/echo.json", 0)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			b, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			var got hostapi.Event
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			if !reflect.DeepEqual(got, sent) {
				t.Fatalf("the plugin received\n%+v\nwant\n%+v", got, sent)
			}
		})
	}
}
