package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/filegate/filegate/core/gateway/gatewaytest"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// recordEvents appends n upload events straight to the store (no storage I/O), as
// front ends would.
func recordEvents(b *testing.B, e *gatewaytest.Env, n int) {
	b.Helper()
	tenants, _ := e.G.Store.Tenants(context.Background())
	for i := range n {
		if err := e.G.Store.Record(context.Background(), tenants[0].ID, hostapi.Event{Type: hostapi.EventFileUploaded, Path: fmt.Sprintf("/b/%d.txt", i), Protocol: "http"}); err != nil {
			b.Fatal(err)
		}
	}
}

// waitFor polls cond every 5 ms (benchmarks measure throughput; a coarse poll would
// dominate).
func waitFor(b *testing.B, cond func() bool) {
	deadline := time.Now().Add(5 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkDispatchNoopRule measures events per second from a burst of appends to the
// event log to finished runs of a builtin rule whose OnEvent does nothing (retention
// acts on its schedule only), and how far behind the log the last run finished.
func BenchmarkDispatchNoopRule(b *testing.B) {
	e := gatewaytest.Start(b, `
[[rules]]
name = "noop"
plugin = "retention"
events = ["file.uploaded"]
allow = ["storage:default"]
config = { keep_last = 1 }
limits = { concurrency = 8 }
`, nil)
	const n = 2000
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		recordEvents(b, e, n)
		recorded := time.Now()
		waitFor(b, func() bool {
			c, _ := e.G.Store.RunCounts(context.Background(), "noop", 0)
			return c["done"] >= n*(i+1)
		})
		b.ReportMetric(n/time.Since(start).Seconds(), "events/s")
		b.ReportMetric(float64(time.Since(recorded).Milliseconds()), "ms-behind-log")
	}
}

// BenchmarkWebhookDeliveries measures deliveries per second to a receiver on 127.0.0.1.
func BenchmarkWebhookDeliveries(b *testing.B) {
	e := gatewaytest.Start(b, "", nil)
	var got atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	defer rcv.Close()
	if st := e.Do("POST", "/webhooks", e.Token(), map[string]any{"Url": rcv.URL, "Secret": "k"}, nil); st != 201 {
		b.Fatalf("create webhook: %d", st)
	}
	time.Sleep(100 * time.Millisecond) // the engine loads the new webhook's rule
	const n = 2000
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		recordEvents(b, e, n)
		recorded := time.Now()
		waitFor(b, func() bool { return got.Load() >= int64(n*(i+1)) })
		b.ReportMetric(n/time.Since(start).Seconds(), "deliveries/s")
		b.ReportMetric(float64(time.Since(recorded).Milliseconds()), "ms-behind-log")
	}
}

// BenchmarkUploadLatency uploads 1 KiB files back to back through the Storage API with
// no rules, with 10 webhook rules that match none of the uploads, and with 10 that
// match every one (a receiver taking 50 ms per delivery).
func BenchmarkUploadLatency(b *testing.B) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { time.Sleep(50 * time.Millisecond) }))
	defer slow.Close()
	tenRules := func(paths string) string {
		var b strings.Builder
		for i := range 10 {
			fmt.Fprintf(&b, "[[rules]]\nname = \"hook%d\"\nplugin = \"webhook\"\nevents = [\"file.uploaded\"]\npaths = [%q]\nallow = [\"http:127.0.0.1\"]\nconfig = { url = %q }\n", i, paths, slow.URL)
		}
		return b.String()
	}
	for _, c := range []struct{ name, toml string }{
		{"rules=0", ""},
		{"rules=10,matching=none", tenRules("/elsewhere/**")}, // dispatched, no runs
		{"rules=10,matching=all", tenRules("/**")},            // 10 deliveries per upload
	} {
		b.Run(c.name, func(b *testing.B) {
			e := gatewaytest.Start(b, c.toml, nil)
			data := make([]byte, 1024)
			b.ResetTimer()
			for i := range b.N {
				upload(b, e, fmt.Sprintf("/u/%d.bin", i), data)
			}
		})
	}
}
