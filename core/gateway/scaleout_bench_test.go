package gateway_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/filegate/filegate/core/gateway/gatewaytest"
	"github.com/filegate/filegate/core/store/storetest"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// BenchmarkDispatchNodes measures events per second through the rules engine with 1, 2
// and 3 gateway nodes sharing one PostgreSQL database: a burst of 2,000 upload events
// appended by 8 writers spread over the nodes (as front ends would), timed until every
// run of a builtin rule whose OnEvent does nothing is done. The nodes run in this
// process, so they share its CPUs as separate processes on one machine would.
// Skipped without FILEGATE_TEST_POSTGRES.
func BenchmarkDispatchNodes(b *testing.B) {
	const rule = `
[[rules]]
name = "noop"
plugin = "retention"
events = ["file.uploaded"]
allow = ["storage:default"]
config = { keep_last = 1 }
limits = { concurrency = 8 }
`
	for _, nodes := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			dsn := storetest.DSN(b, "postgres")
			text := fmt.Sprintf("[store]\ndriver = \"postgres\"\ndsn = %q\n", dsn) + rule
			envs := make([]*gatewaytest.Env, nodes)
			for i := range envs {
				envs[i] = gatewaytest.Start(b, text, nil)
			}
			tenants, err := envs[0].G.Store.Tenants(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			const n, writers = 2000, 8
			b.ResetTimer()
			for round := range b.N {
				start := time.Now()
				var wg sync.WaitGroup
				for w := range writers {
					st := envs[w%nodes].G.Store
					wg.Go(func() {
						for i := w; i < n; i += writers {
							ev := hostapi.Event{Type: hostapi.EventFileUploaded, Path: fmt.Sprintf("/b/%d/%d.txt", round, i), Protocol: "http"}
							if err := st.Record(context.Background(), tenants[0].ID, ev); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				recorded := time.Now()
				waitFor(b, func() bool {
					c, _ := envs[0].G.Store.RunCounts(context.Background(), "noop", 0)
					return c["done"] >= n*(round+1)
				})
				b.ReportMetric(n/time.Since(start).Seconds(), "events/s")
				b.ReportMetric(float64(time.Since(recorded).Milliseconds()), "ms-behind-log")
			}
		})
	}
}
