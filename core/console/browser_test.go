package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBrowser drives the console in Debian's chromium with playwright-core
// (console/test/e2e.mjs) against a real `filegate serve`: sign in by login link and by
// keys, create an FTP account, upload by the file input, see the file.uploaded event
// appear live, create an API key and see its secret once, download a zip of two files,
// create a webhook to a receiver started here and see its deliveries, retry a failed
// rule run.
// Screenshots go to .ci/artifacts/console/. .ci/console.sh installs what it needs.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped with -short")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	node, err := exec.LookPath("node")
	switch {
	case err != nil:
		t.Skip("browser test skipped: node is not installed (run .ci/console.sh)")
	case !exists(chromium):
		t.Skipf("browser test skipped: %s is missing (apt-get install chromium, or run .ci/run)", chromium)
	case !exists(filepath.Join(root, "console/node_modules/playwright-core")):
		t.Skip("browser test skipped: console/node_modules/playwright-core is missing (run .ci/console.sh)")
	}

	dir := t.TempDir()
	bin := filepath.Join(dir, "filegate")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(root, "cmd/filegate")).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	rcv := newReceiver(t)
	cfg := filepath.Join(dir, "gateway.toml")
	conf := fmt.Sprintf("data_dir = \"data\"\n[http]\nlisten = %q\n[ftp]\nlisten = \"off\"\n[sftp]\nlisten = \"off\"\n", addr)
	// A gateway.toml rule whose first delivery of /flaky.txt fails with its only
	// attempt: the console shows the failed run and retries it.
	conf += fmt.Sprintf("[[rules]]\nname = \"notify\"\nplugin = \"webhook\"\nevents = [\"file.uploaded\"]\npaths = [\"/flaky.txt\"]\n"+
		"allow = [\"http:127.0.0.1\"]\nconfig = { url = %q }\nlimits = { max_attempts = 1 }\n", rcv.URL+"/rule")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	keys, err := exec.Command(bin, "init", "--dir", dir, "--json").Output()
	if err != nil {
		t.Fatalf("init: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var serveLog bytes.Buffer
	serve := exec.CommandContext(ctx, bin, "serve", "--config", cfg)
	serve.Stdout, serve.Stderr = &serveLog, &serveLog
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		serve.Process.Signal(os.Interrupt)
		serve.Wait()
		if t.Failed() {
			t.Logf("filegate serve:\n%s", serveLog.String())
		}
	}()
	base := "http://" + addr
	waitUp(t, base+"/healthz")
	out, err := exec.Command(bin, "console-link", "--config", cfg).Output()
	if err != nil {
		t.Fatalf("console-link: %v", err)
	}
	link := strings.TrimSpace(lastLine(string(out)))
	if !strings.HasPrefix(link, base+"/#link=") {
		t.Fatalf("console-link printed %q, want a link to %s", out, base)
	}
	var k map[string]string
	if err := json.Unmarshal(keys, &k); err != nil {
		t.Fatalf("init --json: %v", err)
	}

	artifacts := filepath.Join(root, ".ci/artifacts/console")
	cmd := exec.CommandContext(ctx, node, "test/e2e.mjs")
	cmd.Dir = filepath.Join(root, "console")
	cmd.Env = append(os.Environ(), "FILEGATE_URL="+base, "FILEGATE_KEYS="+string(keys), "FILEGATE_LINK="+link,
		"ARTIFACTS="+artifacts, "CHROMIUM="+chromium,
		"RECEIVER_URL="+rcv.URL)
	res, err := cmd.CombinedOutput()
	t.Logf("console/test/e2e.mjs (screenshots in %s):\n%s", artifacts, res)
	if err != nil {
		t.Fatalf("browser test failed: %v", err)
	}
	if got := rcv.paths("/hook"); !slices.Contains(got, "/hooked.txt") {
		t.Errorf("the webhook created in the console delivered %v, want /hooked.txt among them", got)
	}
	if got := rcv.paths("/rule"); !slices.Equal(got, []string{"/flaky.txt", "/flaky.txt"}) {
		t.Errorf("the notify rule delivered %v, want /flaky.txt failed once then retried", got)
	}
}

// receiver is the webhook receiver the browser test's webhooks POST to: it records
// each delivery's event path by URL path, and answers the first delivery to /rule 500.
type receiver struct {
	*httptest.Server
	mu  sync.Mutex
	got map[string][]string
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{got: map[string][]string{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var ev struct{ Path string }
		json.NewDecoder(req.Body).Decode(&ev)
		r.mu.Lock()
		r.got[req.URL.Path] = append(r.got[req.URL.Path], ev.Path)
		first := req.URL.Path == "/rule" && len(r.got["/rule"]) == 1
		r.mu.Unlock()
		if first {
			http.Error(w, "receiver down for a moment", http.StatusInternalServerError)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) paths(urlPath string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got[urlPath])
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitUp(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer within 15s", url)
}
