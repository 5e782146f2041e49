// Command hostile is a rule plugin that misbehaves on demand, for the runtime's
// containment tests: the event's path says how.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"

	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/sdk"
)

// apiVersion is set with -ldflags "-X main.apiVersion=2.0" to build a plugin for a
// host API this host does not serve.
var apiVersion = hostapi.Version

type hostile struct{}

func (hostile) Manifest() hostapi.Manifest {
	return hostapi.Manifest{Name: "hostile", Kind: hostapi.KindRule, APIVersion: apiVersion}
}

var sink []byte

func recurse(n int) int {
	var pad [16 << 10]byte
	pad[n%len(pad)] = byte(n)
	return recurse(n+1) + int(pad[0])
}

func (hostile) OnEvent(ctx context.Context, h hostapi.Host, ev hostapi.Event) error {
	switch ev.Path {
	case "/ok":
		return nil
	case "/loop":
		for {
		}
	case "/alloc":
		sink = make([]byte, 4<<30)
		sink[len(sink)-1] = 1
	case "/stack":
		return errors.New(string(rune(recurse(0))))
	case "/forbidden":
		return h.Move(ctx, "archive", "/a", "/b")
	case "/panic":
		panic("boom")
	case "/exit":
		os.Exit(3)
	case "/kv":
		if err := h.KVPut(ctx, "k", []byte(ev.Account)); err != nil {
			return err
		}
		v, _, err := h.KVGet(ctx, "k")
		if err == nil && string(v) != ev.Account {
			err = errors.New("kv round trip: got " + string(v))
		}
		return err
	case "/write":
		return h.WriteFile(ctx, "default", "/out/"+ev.Account, []byte(ev.SHA256))
	case "/echo":
		// The event as it arrived, for the tests that check every field crosses the
		// transport.
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		return h.WriteFile(ctx, "default", "/out/echo.json", b)
	}
	return errors.New("unknown behaviour " + ev.Path)
}

func (hostile) OnSchedule(context.Context, hostapi.Host, hostapi.Run) error { return nil }

func init() { sdk.Serve(hostile{}) }

func main() {}
