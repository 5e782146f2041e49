package goplugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/hostapi/v1/wire"
)

// methodSlow makes the test handler wait, methodEcho answer with its request.
const (
	methodEcho = wire.Method(100)
	methodSlow = wire.Method(101)
)

func testHandler(_ context.Context, _ hostapi.Host, m wire.Method, req []byte) []byte {
	if m == methodSlow {
		time.Sleep(300 * time.Millisecond)
	}
	return append([]byte(nil), req...)
}

// connect serves testHandler over an in-memory go-plugin connection, as a plugin
// built with call streams or (legacy) before them, and returns the started host side.
func connect(t *testing.T, legacy bool) *Conn {
	t.Helper()
	client, _ := plugin.TestPluginRPCConn(t, map[string]plugin.Plugin{Name: &rpcPlugin{handler: testHandler, legacy: legacy}}, nil)
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(Name)
	if err != nil {
		t.Fatal(err)
	}
	c := raw.(*Conn)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCalls: both transports carry requests and responses of every size, concurrently.
func TestCalls(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprintf("legacy=%v", legacy), func(t *testing.T) {
			c := connect(t, legacy)
			if c.streams == legacy {
				t.Fatalf("call streams %v for a legacy=%v plugin", c.streams, legacy)
			}
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Go(func() {
					for _, n := range []int{0, 1, 100, wire.ChunkMin, wire.ChunkMax + 40, 3 << 20} {
						req := bytes.Repeat([]byte{byte(i)}, n)
						resp, err := c.Call(context.Background(), nil, methodEcho, req)
						if err != nil {
							t.Errorf("call %d, %d bytes: %v", i, n, err)
							return
						}
						if !bytes.Equal(resp, req) {
							t.Errorf("call %d, %d bytes: got %d other bytes", i, n, len(resp))
						}
						wire.RecycleChunk(resp)
					}
				})
			}
			wg.Wait()
			c.mu.Lock()
			idle := len(c.idle)
			c.mu.Unlock()
			if idle > maxIdleStreams {
				t.Errorf("%d idle call streams kept, at most %d", idle, maxIdleStreams)
			}
		})
	}
}

// TestCallDeadline: a call on a stream ends at its context's deadline, and the
// streams keep working for later calls.
func TestCallDeadline(t *testing.T) {
	c := connect(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Call(ctx, nil, methodSlow, []byte("x"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow call: %v, want a DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Errorf("slow call returned after %v, its deadline was 50ms", d)
	}
	if resp, err := c.Call(context.Background(), nil, methodEcho, []byte("after")); err != nil || string(resp) != "after" {
		t.Errorf("call after a missed deadline: %q, %v", resp, err)
	}
}
