package gateway_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/filegate/filegate/core/gateway/gatewaytest"
	"github.com/filegate/filegate/core/internal/clienttest"
	"github.com/filegate/filegate/plugins/rules/webhook"
)

// upload stores data at p through the Storage API.
func upload(t testing.TB, e *gatewaytest.Env, p string, data []byte) {
	t.Helper()
	e.Upload(map[string][]byte{p: data})
}

// receiver is a webhook endpoint on 127.0.0.1 that checks signatures and answers
// each delivery with the statuses in fail first, then 200.
type receiver struct {
	*httptest.Server
	t      *testing.T
	secret string
	mu     sync.Mutex
	got    []delivery
	fail   map[string][]int // path → statuses to answer first
}

type delivery struct {
	event, id, path string
	status          int
}

func newReceiver(t *testing.T, secret string) *receiver {
	r := &receiver{t: t, secret: secret, fail: map[string][]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if !webhook.Verify(r.secret, body, req.Header.Get("X-Filegate-Signature")) {
			t.Errorf("bad signature %q on %s", req.Header.Get("X-Filegate-Signature"), body)
			w.WriteHeader(400)
			return
		}
		var ev struct {
			ID   int64
			Type string
			Path string
		}
		json.Unmarshal(body, &ev)
		if req.Header.Get("X-Filegate-Event") != ev.Type || req.Header.Get("X-Filegate-Delivery") != fmt.Sprint(ev.ID) {
			t.Errorf("headers %v do not match the event %s", req.Header, body)
		}
		r.mu.Lock()
		status := 200
		if f := r.fail[ev.Path]; len(f) > 0 {
			status, r.fail[ev.Path] = f[0], f[1:]
		}
		r.got = append(r.got, delivery{event: ev.Type, id: fmt.Sprint(ev.ID), path: ev.Path, status: status})
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// TestWebhookRetriesAndDeliveriesLog manages a webhook through the API: deliveries are
// signed, a receiver answering 500 gets the event again, and the deliveries log shows
// every attempt; events outside the PathPrefix or of other types are not sent.
func TestWebhookRetriesAndDeliveriesLog(t *testing.T) {
	e := gatewaytest.Start(t, "", nil)
	rcv := newReceiver(t, "s3cret")
	rcv.fail["/in/a.txt"] = []int{500, 503}
	var hook struct {
		Id        int64
		Url       string
		Secret    string
		HasSecret bool
		Enabled   bool
	}
	if st := e.Do("POST", "/webhooks", e.Token(), map[string]any{"Url": rcv.URL + "/hook", "Events": []string{"file.uploaded"}, "PathPrefix": "/in", "Secret": "s3cret"}, &hook); st != 201 {
		t.Fatalf("create webhook: %d", st)
	}
	if hook.Secret != "" || !hook.HasSecret || !hook.Enabled {
		t.Fatalf("created webhook %+v: the secret must not come back", hook)
	}
	upload(t, e, "/out/b.txt", []byte("not under the prefix"))
	upload(t, e, "/in/a.txt", []byte("hello"))
	clienttest.Eventually(t, "three deliveries of /in/a.txt", func() bool { return len(rcv.deliveries()) >= 3 })
	got := rcv.deliveries()
	if len(got) != 3 || got[0].path != "/in/a.txt" || got[0].id != got[2].id || got[2].status != 200 {
		t.Fatalf("receiver saw %+v", got)
	}
	var log struct {
		Data []struct {
			Attempt    int
			StatusCode int
			Success    bool
			Error      string
			Delivery   string
			Path       string
		}
		Total int
	}
	path := fmt.Sprintf("/webhooks/%d/deliveries", hook.Id)
	clienttest.Eventually(t, "three deliveries logged", func() bool {
		e.Do("GET", path, e.Token(), nil, &log)
		return log.Total == 3
	})
	for i, want := range []struct {
		attempt, status int
		ok              bool
	}{{3, 200, true}, {2, 503, false}, {1, 500, false}} {
		d := log.Data[i]
		if d.Attempt != want.attempt || d.StatusCode != want.status || d.Success != want.ok || (d.Error == "") != want.ok || d.Delivery != got[0].id || d.Path != "/in/a.txt" {
			t.Errorf("delivery %d = %+v, want attempt %d status %d", i, d, want.attempt, want.status)
		}
	}
	var runs struct {
		Data []struct {
			Status   string
			Attempts int
		}
	}
	e.Do("GET", fmt.Sprintf("/rules/webhook:%d/runs", hook.Id), e.Token(), nil, &runs)
	if len(runs.Data) != 1 || runs.Data[0].Status != "done" || runs.Data[0].Attempts != 3 {
		t.Fatalf("runs %+v", runs)
	}

	if st := e.Do("PUT", fmt.Sprintf("/webhooks/%d", hook.Id), e.Token(), map[string]any{"Enabled": false}, &hook); st != 200 || hook.Enabled {
		t.Fatalf("disable: %d %+v", st, hook)
	}
	if st := e.Do("POST", "/webhooks", e.Token(), map[string]any{"Url": "ftp://example.com"}, nil); st != 400 {
		t.Fatalf("an ftp:// Url: %d, want 400", st)
	}
	if st := e.Do("DELETE", fmt.Sprintf("/webhooks/%d", hook.Id), e.Token(), nil, nil); st != 200 {
		t.Fatalf("delete: %d", st)
	}
	if st := e.Do("GET", fmt.Sprintf("/webhooks/%d", hook.Id), e.Token(), nil, nil); st != 404 {
		t.Fatalf("get after delete: %d", st)
	}
}

// TestFailedRunIsParkedAndRetried configures a webhook rule in gateway.toml with two
// attempts: a receiver that keeps failing gets its run parked as failed, and a retry
// through the API delivers it once the receiver is back.
func TestFailedRunIsParkedAndRetried(t *testing.T) {
	rcv := newReceiver(t, "k")
	rcv.fail["/x.txt"] = []int{500, 500}
	host := strings.TrimPrefix(rcv.URL, "http://")
	e := gatewaytest.Start(t, fmt.Sprintf(`
[[rules]]
name = "notify"
plugin = "webhook"
events = ["file.uploaded"]
allow = ["http:%s"]
config = { url = "%s", secret = "k" }
limits = { max_attempts = 2, backoff = "10ms" }
`, host, rcv.URL), nil)
	upload(t, e, "/x.txt", []byte("x"))
	type runList struct {
		Data []struct {
			Id        int64
			Status    string
			LastError string
		}
	}
	var runs runList
	clienttest.Eventually(t, "the run parked as failed", func() bool {
		e.Do("GET", "/rules/notify/runs?status=failed", e.Token(), nil, &runs)
		return len(runs.Data) == 1
	})
	if !strings.Contains(runs.Data[0].LastError, "answered 500") {
		t.Fatalf("last error %q", runs.Data[0].LastError)
	}
	var rules struct {
		Data []struct {
			Name string
			Runs map[string]int
		}
	}
	e.Do("GET", "/rules", e.Token(), nil, &rules)
	if len(rules.Data) != 1 || rules.Data[0].Name != "notify" || rules.Data[0].Runs["failed"] != 1 {
		t.Fatalf("rules %+v", rules)
	}
	id := runs.Data[0].Id
	if st := e.Do("POST", fmt.Sprintf("/rules/notify/runs/%d/retry", id), e.Token(), nil, nil); st != 200 {
		t.Fatalf("retry: %d", st)
	}
	clienttest.Eventually(t, "the retried run done", func() bool {
		e.Do("GET", "/rules/notify/runs?status=done", e.Token(), nil, &runs)
		return len(runs.Data) == 1
	})
	if st := e.Do("POST", fmt.Sprintf("/rules/notify/runs/%d/retry", id), e.Token(), nil, nil); st != 409 {
		t.Fatalf("retrying a done run: %d, want 409", st)
	}
	if st := e.Do("GET", "/rules/nope/runs", e.Token(), nil, nil); st != 404 {
		t.Fatalf("unknown rule: %d", st)
	}
	if got := len(rcv.deliveries()); got != 3 {
		t.Fatalf("%d deliveries, want 3 (two failed, one after the retry)", got)
	}
}

// TestMirrorOfSFTPTree uploads a 500-file tree over SFTP with rclone; the mirror rule
// copies every file to a second local backend, which a byte comparison confirms, and
// a deletion through the API is propagated.
func TestMirrorOfSFTPTree(t *testing.T) {
	clienttest.Need(t, "rclone")
	e := clienttest.StartWith(t, `
[[storage]]
name = "default"
plugin = "local"
config = { root = "files" }

[[storage]]
name = "backup"
plugin = "local"
config = { root = "backup" }

[[rules]]
name = "mirror"
plugin = "mirror"
events = ["file.uploaded", "file.moved", "file.deleted", "dir.deleted"]
allow = ["storage:default", "storage:backup"]
config = { target = "backup", delete = true }
`, nil)
	e.CreateAccount(t, map[string]any{"Username": "cam", "Chroot": "/rc"})
	work := t.TempDir()
	src := filepath.Join(work, "src")
	for i := 0; i < 500; i++ {
		dir := filepath.Join(src, fmt.Sprintf("day %02d", i/50))
		if i%3 == 0 {
			dir = filepath.Join(dir, "sub")
		}
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("img-%03d.jpg", i)), clienttest.Content(fmt.Sprint(i), 100+i*53), 0o644)
	}
	pass := strings.TrimSpace(clienttest.Run(t, work, false, "rclone", "obscure", clienttest.Password))
	host, port, _ := strings.Cut(e.SFTPAddr(), ":")
	remote := fmt.Sprintf(":sftp,host=%s,port=%s,user=cam,pass=%s:/", host, port, pass)
	clienttest.Run(t, work, false, "rclone", "copy", src, remote, "--config", "/dev/null", "--transfers", "4", "--retries", "1")

	waitRuns(t, e.Env, "mirror", 500)
	backup := filepath.Join(e.Dir, "backup", "rc")
	compareTrees(t, src, backup)

	if st := e.Do("POST", "/api/delete", e.Token(), map[string]any{"path": "/rc/day 00", "recursive": true}, nil); st != 200 {
		t.Fatalf("delete: %d", st)
	}
	clienttest.Eventually(t, "the deletion mirrored", func() bool {
		_, err := os.Stat(filepath.Join(backup, "day 00"))
		return os.IsNotExist(err)
	})
}

// waitRuns waits until rule has at least n finished runs and none pending or running,
// and fails on a failed one.
func waitRuns(t *testing.T, e *gatewaytest.Env, rule string, n int) {
	t.Helper()
	clienttest.Eventually(t, fmt.Sprintf("%d runs of %s done", n, rule), func() bool {
		var rules struct {
			Data []struct {
				Name string
				Runs map[string]int
			}
		}
		e.Do("GET", "/rules", e.Token(), nil, &rules)
		for _, r := range rules.Data {
			if r.Name == rule {
				if r.Runs["failed"] > 0 {
					t.Fatalf("failed runs: %v", r.Runs)
				}
				return r.Runs["done"] >= n && r.Runs["pending"] == 0 && r.Runs["running"] == 0
			}
		}
		return false
	})
}

// compareTrees checks that every file under want is under got with the same bytes,
// and that got has nothing more.
func compareTrees(t *testing.T, want, got string) {
	t.Helper()
	n := 0
	filepath.WalkDir(want, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(want, p)
		a, _ := os.ReadFile(p)
		b, err := os.ReadFile(filepath.Join(got, rel))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s: copy differs or is missing (%v)", rel, err)
		}
		n++
		return nil
	})
	m := 0
	filepath.WalkDir(got, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			m++
		}
		return err
	})
	if m != n {
		t.Errorf("%s holds %d files, want %d", got, m, n)
	}
}

// TestRetentionDeletionsAreRuleEvents runs the retention rule on a one-second
// schedule: what it deletes is recorded as file.deleted events with protocol "rule"
// and leaves the metadata tree.
func TestRetentionDeletionsAreRuleEvents(t *testing.T) {
	e := gatewaytest.Start(t, `
[[rules]]
name = "cleanup"
plugin = "retention"
schedule = "@every 1s"
allow = ["storage:default"]
config = { dirs = ["/tmp"], keep_last = 1 }
`, nil)
	upload(t, e, "/tmp/old.txt", []byte("old"))
	os.Chtimes(filepath.Join(e.G.Config.DataPath(), "storage", "tmp", "old.txt"), time.Now(), time.Now().Add(-time.Hour))
	upload(t, e, "/tmp/new.txt", []byte("new"))
	var evs struct {
		Data []struct{ Path, Protocol, Account string }
	}
	clienttest.Eventually(t, "a file.deleted event from the rule", func() bool {
		e.Do("GET", "/events?type=file.deleted", e.Token(), nil, &evs)
		return len(evs.Data) > 0
	})
	if d := evs.Data[0]; len(evs.Data) != 1 || d.Path != "/tmp/old.txt" || d.Protocol != "rule" || d.Account != "cleanup" {
		t.Fatalf("deletion events %+v", evs.Data)
	}
	if _, err := os.Stat(filepath.Join(e.G.Config.DataPath(), "storage", "tmp", "new.txt")); err != nil {
		t.Fatal(err)
	}
}
