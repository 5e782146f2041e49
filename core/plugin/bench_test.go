package plugin

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/filegate/filegate/core/internal/cputime"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// okRule is the trivial builtin rule of the benchmarks.
type okRule struct{}

func (okRule) Manifest() hostapi.Manifest {
	return hostapi.Manifest{Name: "ok", Kind: hostapi.KindRule}
}
func (okRule) OnEvent(context.Context, hostapi.Host, hostapi.Event) error  { return nil }
func (okRule) OnSchedule(context.Context, hostapi.Host, hostapi.Run) error { return nil }

// benchEvent is an event of about 1 KiB on the wire.
func benchEvent() hostapi.Event {
	ev := event("/ok")
	ev.Time = time.Now()
	ev.SHA256 = strings.Repeat("ab", 32)
	ev.Account = strings.Repeat("a", 900)
	return ev
}

// BenchmarkOnEvent is the per-event cost of a trivial rule with a 1 KiB event, by
// transport, run in parallel (go test -bench OnEvent -cpu 1,2).
func BenchmarkOnEvent(b *testing.B) {
	for _, tc := range []struct{ name, plugin string }{
		{"builtin", "ok"}, {"wasm", guests.hostile}, {"process", guests.native},
	} {
		b.Run(tc.name, func(b *testing.B) {
			opts := testOptions(b, tc.plugin)
			opts.Builtin = func(string) (hostapi.Plugin, bool) { return okRule{}, true }
			p := mustLoad(b, opts)
			ev := benchEvent()
			latencies := benchLatencies(b, func() error { return p.OnEvent(context.Background(), ev) })
			b.ReportMetric(float64(latencies.p50.Nanoseconds())/1e3, "p50-µs")
			b.ReportMetric(float64(latencies.p99.Nanoseconds())/1e3, "p99-µs")
		})
	}
}

// benchResult summarises the calls of one benchmark run.
type benchResult struct{ p50, p99 time.Duration }

// benchLatencies runs call b.N times across RunParallel's goroutines and reports,
// besides ns/op, the median latency of one call and the process CPU time per call
// ("cpu-ns/op"): on a loaded machine the wall time per call mostly measures the wait
// for a CPU, the CPU time what the call costs.
func benchLatencies(b *testing.B, call func() error) benchResult {
	var mu sync.Mutex
	var all []time.Duration
	cpu0 := cputime.Process()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			start := time.Now()
			if err := call(); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(start))
		}
		mu.Lock()
		all = append(all, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	b.ReportMetric(float64(cputime.Process()-cpu0)/float64(b.N), "cpu-ns/op")
	if len(all) == 0 {
		return benchResult{}
	}
	slices.Sort(all)
	return benchResult{p50: all[len(all)/2], p99: all[len(all)*99/100]}
}

// BenchmarkLoadWASM is the cost of loading the wasm plugin: compiling it (cold), or
// reading it from the compilation cache, plus the first instance.
func BenchmarkLoadWASM(b *testing.B) {
	for _, cached := range []bool{false, true} {
		name := "cold"
		if cached {
			name = "cache"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				opts := testOptions(b, guests.hostile)
				opts.CacheDir = ""
				if cached {
					opts.CacheDir = guests.cache
				}
				p, err := Load(context.Background(), opts)
				if err != nil {
					b.Fatal(err)
				}
				p.Close(context.Background())
			}
		})
	}
}

// BenchmarkInstantiateWASM is the cost of one more instance of a compiled module.
func BenchmarkInstantiateWASM(b *testing.B) {
	pool, err := newWASM(context.Background(), guests.hostile, guests.cache, Limits{}.withDefaults(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close(context.Background())
	for b.Loop() {
		inst, err := pool.instantiate(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		inst.mod.Close(context.Background())
	}
}
