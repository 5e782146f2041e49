package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/filegate/filegate/core/store/storetest"
	"github.com/filegate/filegate/plugins/rules/webhook"
)

// scaleFiles is the number of files TestThreeNodesKill9 uploads: $FILEGATE_SCALE_FILES,
// 1,000 by default (the figure).
func scaleFiles(t *testing.T) int {
	return int(envInt(t, "FILEGATE_SCALE_FILES", 1000, 30, "a number of files, at least 30"))
}

// scaleNode is one `filegate serve` process of a cluster.
type scaleNode struct {
	dir             string
	http, ftp, sftp string // listen addresses
	cmd             *exec.Cmd
}

// clusterConfig is the gateway.toml every node shares, but for its listeners: one
// PostgreSQL database, one storage folder, a mirror target and a mirror rule.
func clusterConfig(dsn, shared, backup string) string {
	return fmt.Sprintf(`data_dir = "data"

[store]
driver = "postgres"
dsn = %q

[[storage]]
name = "default"
plugin = "local"
config = { root = %q, sweep_after = "1h" }  # shared by the nodes: spare each other's uploads

[[storage]]
name = "backup"
plugin = "local"
config = { root = %q, sweep_after = "1h" }

[[rules]]
name = "mirror"
plugin = "mirror"
events = ["file.uploaded"]
allow = ["storage:default", "storage:backup"]
config = { target = "backup" }
limits = { timeout = "2s" }
`, dsn, shared, backup)
}

// passiveRange is a range of 40 ports for node's passive FTP data connections, apart
// from the other nodes' ranges.
func passiveRange(node int) string {
	lo := 30000 + node*10_000 + rand.IntN(190)*50
	return fmt.Sprintf("%d-%d", lo, lo+39)
}

// TestThreeNodesKill9 runs three `filegate serve` processes on one PostgreSQL database
// and one storage folder, with a mirror rule and a webhook, and uploads
// $FILEGATE_SCALE_FILES small files spread over the nodes by HTTP, FTP (curl) and SFTP,
// concurrently. Node 2 is killed with SIGKILL in the middle of the burst and restarted;
// the uploads it broke are retried on the next node, as a load balancer would. Then:
// every file has its upload event (exactly one unless it was retried), every event has
// exactly one done mirror run and one done webhook run, the mirror holds every file byte
// for byte, the receiver got every event (twice only when the run needed a second
// attempt), the deliveries log shows one success per event, all three nodes present
// node 1's SSH host key, and node 1's token works on nodes 2 and 3.
func TestThreeNodesKill9(t *testing.T) {
	dsn := storetest.DSN(t, "postgres") // skips without FILEGATE_TEST_POSTGRES
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	total := scaleFiles(t)
	root := t.TempDir()
	shared, backup, src := filepath.Join(root, "shared"), filepath.Join(root, "backup"), filepath.Join(root, "src")
	for _, d := range []string{shared, backup, src} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	// The webhook receiver counts deliveries by X-Filegate-Delivery and checks signatures.
	const secret = "scale-out-secret"
	var rcvMu sync.Mutex
	received := map[int64]int{}
	var badSignatures atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !webhook.Verify(secret, body, r.Header.Get("X-Filegate-Signature")) {
			badSignatures.Add(1)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		id, err := strconv.ParseInt(r.Header.Get("X-Filegate-Delivery"), 10, 64)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rcvMu.Lock()
		received[id]++
		rcvMu.Unlock()
	}))
	t.Cleanup(rcv.Close)

	// Three nodes: node 1 initialises the store, nodes 2 and 3 get its host keys and TLS
	// certificate (one server identity) and find its tenant.
	common := clusterConfig(dsn, shared, backup)
	nodes := make([]*scaleNode, 3)
	var keys initJSON
	for i := range nodes {
		n := &scaleNode{dir: filepath.Join(root, fmt.Sprintf("node%d", i+1))}
		n.http = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		n.ftp = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		n.sftp = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		cfg := common + fmt.Sprintf("\n[http]\nlisten = %q\nrate_limit = 0\n[ftp]\nlisten = %q\npassive_ports = %q\ntls = \"off\"\n[sftp]\nlisten = %q\n",
			n.http, n.ftp, passiveRange(i), n.sftp)
		if err := os.MkdirAll(filepath.Join(n.dir, "data"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(n.dir, "gateway.toml"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			for _, f := range []string{"ssh_host_ed25519_key", "ssh_host_rsa_key", "tls_cert.pem", "tls_key.pem"} {
				b, err := os.ReadFile(filepath.Join(nodes[0].dir, "data", f))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(n.dir, "data", f), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
		k := initDir(t, n.dir)
		if i == 0 {
			keys = k
		} else if k.SecretKey != "" || k.AssociationKey != keys.AssociationKey {
			t.Fatalf("node %d initialised a second tenant (%s, node 1 has %s)", i+1, k.AssociationKey, keys.AssociationKey)
		}
		nodes[i] = n
	}
	for _, n := range nodes {
		n.cmd = startServe(t, n.dir, n.http)
	}
	tok := token(t, nodes[0].http, keys)

	const ftpUser, ftpPass = "bulk", "Correct-Horse-42"
	apiPost(t, nodes[0].http, tok, "/ftpaccounts/create", map[string]any{"Username": ftpUser, "Password": ftpPass, "AccessRights": "RW"})
	var hook struct{ Id int64 }
	apiPostJSON(t, nodes[1].http, tok, "/webhooks", map[string]any{"Url": rcv.URL, "Events": []string{"file.uploaded"}, "Secret": secret}, &hook)
	hookRule := fmt.Sprintf("webhook:%d", hook.Id)

	hostKey := readHostKey(t, filepath.Join(nodes[0].dir, "data", "ssh_host_ed25519_key"))

	protocols := []string{"http", "ftp", "sftp"}
	name := func(i int) string { return fmt.Sprintf("burst/%s/%02d/f%04d.txt", protocols[i%3], i/3%10, i) }
	content := func(i int) []byte { return []byte(fmt.Sprintf("file %d %s", i, strings.Repeat("y", i%97))) }
	for i := range total {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%04d.txt", i)), content(i), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The burst. File i goes by protocols[i%3], first to node first(i) (blocks of 24 files
	// per node, so that curl sends 8 files per connection); a failed upload is tried
	// again on the next node. attempts[i] counts the tries.
	first := func(i int) int { return i / 24 % 3 }
	attempts := make([]atomic.Int32, total)
	var succeeded atomic.Int64
	killAt := int64(total * 3 / 10)
	killNow := make(chan struct{})
	var killOnce sync.Once
	done := func() {
		if succeeded.Add(1) >= killAt {
			killOnce.Do(func() { close(killNow) })
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	var failMu sync.Mutex
	var failures []string
	fail := func(format string, args ...any) {
		failMu.Lock()
		failures = append(failures, fmt.Sprintf(format, args...))
		failMu.Unlock()
	}

	jobs := map[string]chan int{"http": make(chan int, total), "ftp": make(chan int, total), "sftp": make(chan int, total)}
	for i := range total {
		jobs[protocols[i%3]] <- i
	}
	for _, c := range jobs {
		close(c)
	}
	var wg sync.WaitGroup
	// HTTP: the Storage API, node 1's token on every node.
	for range 6 {
		wg.Go(func() {
			for i := range jobs["http"] {
				for node := first(i); ; node = (node + 1) % 3 {
					if time.Now().After(deadline) {
						fail("http upload %d: no node took it", i)
						break
					}
					attempts[i].Add(1)
					if err := httpPut(nodes[node].http, tok, name(i), content(i)); err == nil {
						done()
						break
					}
				}
			}
		})
	}
	// SFTP: one in-process client per worker and node, dialled again after an error.
	for range 3 {
		wg.Go(func() {
			clients := make([]*sftpConn, 3)
			defer func() {
				for _, c := range clients {
					c.close()
				}
			}()
			for i := range jobs["sftp"] {
				for node := first(i); ; node = (node + 1) % 3 {
					if time.Now().After(deadline) {
						fail("sftp upload %d: no node took it", i)
						break
					}
					if clients[node] == nil {
						c, err := dialSFTP(nodes[node].sftp, ftpUser, ftpPass, hostKey)
						if err != nil {
							if errors.Is(err, errWrongHostKey) {
								fail("node %d: %v", node+1, err)
							}
							continue
						}
						clients[node] = c
					}
					attempts[i].Add(1)
					if err := clients[node].put(name(i), content(i)); err == nil {
						done()
						break
					}
					clients[node].close()
					clients[node] = nil
				}
			}
		})
	}
	// FTP: curl uploads up to 8 files per connection; each file that failed goes on to
	// the next node.
	for range 3 {
		wg.Go(func() {
			batch := make([]int, 0, 8)
			flush := func() {
				for node := first(batch[0]); len(batch) > 0; node = (node + 1) % 3 {
					if time.Now().After(deadline) {
						fail("ftp uploads %v: no node took them", batch)
						return
					}
					for _, i := range batch {
						attempts[i].Add(1)
					}
					ok := curlPut(nodes[node].ftp, ftpUser, ftpPass, src, batch, name)
					rest := batch[:0]
					for _, i := range batch {
						if ok[i] {
							done()
						} else {
							rest = append(rest, i)
						}
					}
					batch = rest
				}
			}
			for i := range jobs["ftp"] {
				if len(batch) > 0 && first(batch[0]) != first(i) || len(batch) == cap(batch) {
					flush()
					batch = batch[:0]
				}
				batch = append(batch, i)
			}
			if len(batch) > 0 {
				flush()
			}
		})
	}

	burstStart := time.Now()
	select {
	case <-killNow:
	case <-time.After(time.Until(deadline)):
		t.Fatal("the burst never reached the kill point")
	}
	n2 := nodes[1]
	if err := n2.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	n2.cmd.Wait()
	t.Logf("killed node 2 after %d of %d uploads (%v into the burst)", succeeded.Load(), total, time.Since(burstStart).Round(time.Millisecond))
	n2.cmd = startServe(t, n2.dir, n2.http)
	t.Logf("node 2 is back after %v", time.Since(burstStart).Round(time.Millisecond))
	wg.Wait()
	t.Logf("burst of %d uploads done in %v", total, time.Since(burstStart).Round(time.Millisecond))
	if len(failures) > 0 {
		t.Fatalf("%d uploads failed on every node, first: %s", len(failures), failures[0])
	}
	retried := 0
	for i := range total {
		if attempts[i].Load() > 1 {
			retried++
		}
	}
	t.Logf("%d uploads were tried on more than one node", retried)

	// Every file has its upload event: exactly one unless the upload was retried (an
	// upload that completed on node 2 just before the kill, whose answer was lost, was
	// sent again and so recorded twice).
	node3 := nodes[2].http
	evPath := map[int64]string{}
	perPath := map[string]int{}
	for off := 0; ; off += 1000 {
		var page struct {
			Data []struct {
				ID             int64
				Path, Protocol string
			}
			Total int
		}
		apiGet(t, node3, tok, fmt.Sprintf("/events?type=file.uploaded&limit=1000&offset=%d", off), &page)
		for _, ev := range page.Data {
			evPath[ev.ID] = ev.Path
			perPath[ev.Path]++
			if want := strings.Split(ev.Path+"//", "/")[2]; ev.Protocol != want {
				t.Errorf("event %d (%s): protocol %q, want %q", ev.ID, ev.Path, ev.Protocol, want)
			}
		}
		if off+1000 >= page.Total {
			break
		}
	}
	twice := 0
	for i := range total {
		p, n, a := "/"+name(i), perPath["/"+name(i)], int(attempts[i].Load())
		switch {
		case n == 0:
			t.Errorf("%s: no file.uploaded event", p)
		case n > a:
			t.Errorf("%s: %d file.uploaded events for %d upload attempts", p, n, a)
		case n > 1:
			twice++
		}
		delete(perPath, p)
	}
	for p, n := range perPath {
		t.Errorf("%d file.uploaded events for %s, which was never uploaded", n, p)
	}
	t.Logf("%d upload events (%d files recorded twice after a retry)", len(evPath), twice)

	// Wait until every event's mirror and webhook run is done.
	runTotal := func(rule, status string) int {
		var page struct{ Total int }
		apiGet(t, nodes[0].http, tok, fmt.Sprintf("/rules/%s/runs?status=%s&limit=1", rule, status), &page)
		return page.Total
	}
	quietBy := time.Now().Add(90 * time.Second)
	waitStart := time.Now()
	for {
		busy := false
		for _, rule := range []string{"mirror", hookRule} {
			if f := runTotal(rule, "failed"); f > 0 {
				t.Fatalf("%d failed %s runs", f, rule)
			}
			if runTotal(rule, "done") < len(evPath) || runTotal(rule, "pending") > 0 || runTotal(rule, "running") > 0 {
				busy = true
			}
		}
		if !busy {
			break
		}
		if time.Now().After(quietBy) {
			t.Fatalf("not quiet after 90 s: mirror %d done, webhook %d done, of %d events", runTotal("mirror", "done"), runTotal(hookRule, "done"), len(evPath))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("every run done %v after the burst", time.Since(waitStart).Round(time.Millisecond))

	// Exactly one run per event and rule, and it is done.
	type runInfo struct {
		EventId              int64
		Status, LastError    string
		Attempts             int
		CreatedAt, UpdatedAt time.Time
	}
	runs := func(rule string) map[int64]runInfo {
		tries := map[int64]runInfo{}
		for off := 0; ; off += 1000 {
			var page struct {
				Data  []runInfo
				Total int
			}
			apiGet(t, nodes[2].http, tok, fmt.Sprintf("/rules/%s/runs?limit=1000&offset=%d", rule, off), &page)
			for _, r := range page.Data {
				if _, dup := tries[r.EventId]; dup {
					t.Errorf("%s: two runs for event %d", rule, r.EventId)
				}
				if r.Status != "done" {
					t.Errorf("%s: run of event %d is %s", rule, r.EventId, r.Status)
				}
				tries[r.EventId] = r
			}
			if off+1000 >= page.Total {
				break
			}
		}
		for id, p := range evPath {
			if _, ok := tries[id]; !ok {
				t.Errorf("%s: no run for event %d (%s)", rule, id, p)
			}
		}
		if len(tries) != len(evPath) {
			t.Errorf("%s: %d runs for %d events", rule, len(tries), len(evPath))
		}
		return tries
	}
	mirrorTries := runs("mirror")
	hookTries := runs(hookRule)
	retriedRuns := 0
	for _, r := range mirrorTries {
		if r.Attempts > 1 {
			retriedRuns++
		}
	}
	t.Logf("mirror: %d of %d runs needed more than one attempt", retriedRuns, len(mirrorTries))

	// The mirror holds every file, byte for byte.
	byPath := map[string][]runInfo{}
	for id, r := range mirrorTries {
		byPath[evPath[id]] = append(byPath[evPath[id]], r)
	}
	for i := range total {
		for _, dir := range []string{shared, backup} {
			if got, err := os.ReadFile(filepath.Join(dir, name(i))); err != nil || !bytes.Equal(got, content(i)) {
				t.Errorf("%s in %s: %q, %v; its mirror runs: %+v", name(i), dir, got, err, byPath["/"+name(i)])
			}
		}
	}

	// The receiver got every event; a second time only when the run took a second
	// attempt (the first was cut by the kill after the POST and before its outcome was
	// recorded). The deliveries log shows exactly one success per event.
	if n := badSignatures.Load(); n > 0 {
		t.Errorf("%d deliveries with a bad signature", n)
	}
	rcvMu.Lock()
	dupDeliveries := 0
	for id := range evPath {
		switch got := received[id]; {
		case got == 0:
			t.Errorf("webhook: event %d never delivered", id)
		case got > 1 && hookTries[id].Attempts < 2:
			t.Errorf("webhook: event %d delivered %d times by a run with %d attempt", id, got, hookTries[id].Attempts)
		case got > 1:
			dupDeliveries++
		}
	}
	if len(received) != len(evPath) {
		t.Errorf("webhook: the receiver got %d distinct deliveries for %d events", len(received), len(evPath))
	}
	rcvMu.Unlock()
	successes := map[int64]int{}
	for off := 0; ; off += 1000 {
		var page struct {
			Data []struct {
				EventId int64
				Success bool
			}
			Total int
		}
		apiGet(t, nodes[1].http, tok, fmt.Sprintf("/webhooks/%d/deliveries?limit=1000&offset=%d", hook.Id, off), &page)
		for _, d := range page.Data {
			if d.Success {
				successes[d.EventId]++
			}
		}
		if off+1000 >= page.Total {
			break
		}
	}
	for id := range evPath {
		if successes[id] != 1 {
			t.Errorf("webhook: event %d has %d successful deliveries logged, want 1", id, successes[id])
		}
	}
	t.Logf("webhook: %d events, %d delivered twice after a cut attempt", len(evPath), dupDeliveries)

	// Node 1's token, issued before node 2 was killed, works on nodes 2 and 3.
	for _, n := range nodes[1:] {
		var accounts struct{ Total int }
		apiGet(t, n.http, tok, "/ftpaccounts/list", &accounts)
		if accounts.Total != 1 {
			t.Errorf("node %s lists %d FTP accounts, want 1", n.http, accounts.Total)
		}
	}
}

// apiPostJSON sends a JSON body to the API, fails the test unless it answers 2xx, and
// decodes the answer into out unless out is nil.
func apiPostJSON(t *testing.T, addr, tok, p string, body, out any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", "http://"+addr+p, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %s %s", p, resp.Status, msg)
	}
	if out == nil {
		return
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("POST %s: %v", p, err)
	}
}

// httpPut uploads data to name through the Storage API of the node at addr.
func httpPut(addr, tok, name string, data []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	meta := fmt.Sprintf(`{"files":[{"field":"f","path":"/%s"}],"overwrite":true}`, name)
	resp, err := streamUpload(ctx, addr, tok, meta, path.Base(name), bytes.NewReader(data))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("upload %s: %s", name, resp.Status)
	}
	return nil
}

// curlPut uploads the files of batch (src/fNNNN.txt as name(i)) over FTP in one curl
// session and reports which succeeded.
func curlPut(addr, user, pass, src string, batch []int, name func(int) string) map[int]bool {
	args := []string{"-sS", "--ftp-create-dirs", "--connect-timeout", "5", "--max-time", "30", "-u", user + ":" + pass,
		"-w", "%{exitcode} %{url_effective}\n"}
	byURL := map[string]int{}
	for _, i := range batch {
		u := fmt.Sprintf("ftp://%s/%s", addr, name(i))
		byURL[u] = i
		args = append(args, "-T", filepath.Join(src, fmt.Sprintf("f%04d.txt", i)), u)
	}
	out, _ := exec.Command("curl", args...).Output() // a failed transfer shows in its line
	ok := map[int]bool{}
	for line := range strings.Lines(string(out)) {
		code, u, found := strings.Cut(strings.TrimSpace(line), " ")
		if i, known := byURL[u]; found && known && code == "0" {
			ok[i] = true
		}
	}
	return ok
}

var errWrongHostKey = errors.New("the node presented another SSH host key than node 1's")

// sftpConn is an SFTP session over its own SSH connection.
type sftpConn struct {
	ssh  *ssh.Client
	sftp *sftp.Client
}

// dialSFTP logs in to the node at addr, which must present hostKey.
func dialSFTP(addr, user, pass string, hostKey ssh.PublicKey) (*sftpConn, error) {
	var wrongKey bool
	conn, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{
		User: user, Auth: []ssh.AuthMethod{ssh.Password(pass)},
		HostKeyAlgorithms: []string{hostKey.Type()},
		HostKeyCallback: func(host string, remote net.Addr, key ssh.PublicKey) error {
			if !bytes.Equal(key.Marshal(), hostKey.Marshal()) {
				wrongKey = true
				return errWrongHostKey
			}
			return nil
		},
		Timeout: 5 * time.Second,
	})
	if err != nil {
		if wrongKey {
			return nil, errWrongHostKey
		}
		return nil, err
	}
	c, err := sftp.NewClient(conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &sftpConn{conn, c}, nil
}

func (c *sftpConn) put(name string, data []byte) error {
	if err := c.sftp.MkdirAll(path.Dir("/" + name)); err != nil {
		return err
	}
	f, err := c.sftp.Create("/" + name)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (c *sftpConn) close() {
	if c != nil {
		c.sftp.Close()
		c.ssh.Close()
	}
}

// readHostKey returns the public key of the SSH private key file at p.
func readHostKey(t *testing.T, p string) ssh.PublicKey {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return signer.PublicKey()
}
