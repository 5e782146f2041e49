package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// mirrorRule is gateway.toml's tail for the kill test: a second local backend and a
// mirror rule with a short call timeout, so that the runs a killed node held are
// taken over seconds after the restart.
const mirrorRule = `
[[storage]]
name = "default"
plugin = "local"
config = { root = "data/storage" }

[[storage]]
name = "backup"
plugin = "local"
config = { root = "backup" }

[[rules]]
name = "mirror"
plugin = "mirror"
events = ["file.uploaded"]
allow = ["storage:default", "storage:backup"]
config = { target = "backup" }
limits = { timeout = "2s" }
`

// TestKill9DuringBurstLosesNoRuleRun uploads 1,000 small files over HTTP in a burst,
// kills the gateway with SIGKILL in the middle, restarts it and uploads the rest; then
// every recorded upload has exactly one successful mirror run and the backup holds
// every file, byte for byte.
func TestKill9DuringBurstLosesNoRuleRun(t *testing.T) {
	dir := t.TempDir()
	addr := writeConfig(t, dir)
	f, _ := os.OpenFile(filepath.Join(dir, "gateway.toml"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(mirrorRule)
	f.Close()
	keys := initDir(t, dir)
	cmd := startServe(t, dir, addr)
	tok := token(t, addr, keys)

	const total = 1000
	content := func(i int) []byte { return []byte(fmt.Sprintf("file %d %s", i, strings.Repeat("x", i%97))) }
	name := func(i int) string { return fmt.Sprintf("burst/%02d/f%04d.txt", i%20, i) }
	put := func(ctx context.Context, tok string, i int) error {
		meta := fmt.Sprintf(`{"files":[{"field":"f","path":"/%s"}],"overwrite":true}`, name(i))
		resp, err := streamUpload(ctx, addr, tok, meta, "f.txt", bytes.NewReader(content(i)))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 201 {
			return fmt.Errorf("upload %d: %s", i, resp.Status)
		}
		return nil
	}

	// The burst: 16 clients; the kill lands once 300 uploads have succeeded.
	var ok atomic.Int64
	var next atomic.Int64
	var confirmed sync.Map // i → true once its upload answered 201
	var wg sync.WaitGroup
	killed := make(chan struct{})
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				if put(context.Background(), tok, i) != nil {
					return // the server is gone
				}
				confirmed.Store(i, true)
				if ok.Add(1) == 300 {
					close(killed)
				}
			}
		}()
	}
	<-killed
	cmd.Process.Kill()
	cmd.Wait()
	wg.Wait()
	t.Logf("killed after %d successful uploads", ok.Load())

	startServe(t, dir, addr)
	tok = token(t, addr, keys)
	for i := range total { // the rest of the burst, with the uploads the kill interrupted
		if _, ok := confirmed.Load(i); ok {
			continue
		}
		if err := put(context.Background(), tok, i); err != nil {
			t.Fatal(err)
		}
	}

	get := func(path string, out any) {
		t.Helper()
		apiGet(t, addr, tok, path, out)
	}
	// Every file.uploaded event of the log.
	events := map[int64]string{}
	for off := 0; ; off += 1000 {
		var page struct {
			Data []struct {
				ID   int64
				Path string
			}
			Total int
		}
		get(fmt.Sprintf("/events?type=file.uploaded&limit=1000&offset=%d", off), &page)
		for _, ev := range page.Data {
			events[ev.ID] = ev.Path
		}
		if off+1000 >= page.Total {
			break
		}
	}
	if len(events) < total {
		t.Fatalf("%d upload events, want at least %d", len(events), total)
	}
	// Wait until every event's run is done, then check there is exactly one per event.
	deadline := time.Now().Add(90 * time.Second)
	for {
		var rules struct {
			Data []struct{ Runs map[string]int }
		}
		get("/rules", &rules)
		r := rules.Data[0].Runs
		if r["failed"] > 0 {
			t.Fatalf("failed mirror runs: %v", r)
		}
		if r["done"] >= len(events) && r["pending"] == 0 && r["running"] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mirror runs %v, want %d done", r, len(events))
		}
		time.Sleep(100 * time.Millisecond)
	}
	done := map[int64]int{}
	for off := 0; ; off += 1000 {
		var page struct {
			Data []struct {
				EventId int64
				Status  string
			}
			Total int
		}
		get(fmt.Sprintf("/rules/mirror/runs?status=done&limit=1000&offset=%d", off), &page)
		for _, r := range page.Data {
			done[r.EventId]++
		}
		if off+1000 >= page.Total {
			break
		}
	}
	for id, p := range events {
		if done[id] != 1 {
			t.Errorf("event %d (%s): %d successful mirror runs, want 1", id, p, done[id])
		}
	}
	if len(done) != len(events) {
		t.Errorf("%d events with runs, %d events", len(done), len(events))
	}
	for i := range total {
		got, err := os.ReadFile(filepath.Join(dir, "backup", name(i)))
		if err != nil || !bytes.Equal(got, content(i)) {
			t.Errorf("backup of %s: %q, %v", name(i), got, err)
		}
	}
}
