package plugin

import (
	"context"
	"strings"
	"testing"
	"time"

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
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := p.OnEvent(context.Background(), ev); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
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
