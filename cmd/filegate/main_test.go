package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// bin is the filegate binary built once for every test here.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "filegate-bin")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "filegate")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building filegate: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// writeConfig writes DIR/gateway.toml with every listener on a free loopback port.
func writeConfig(t *testing.T, dir string) (httpAddr string) {
	t.Helper()
	httpAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := fmt.Sprintf("data_dir = \"data\"\n[http]\nlisten = %q\n[ftp]\nlisten = \"off\"\n[sftp]\nlisten = \"off\"\n", httpAddr)
	if err := os.WriteFile(filepath.Join(dir, "gateway.toml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return httpAddr
}

type initJSON struct {
	AssociationKey, AccessKey, SecretKey string
	HTTP                                 string `json:"http"`
	FTP                                  string `json:"ftp"`
	SFTP                                 string `json:"sftp"`
}

func initDir(t *testing.T, dir string) initJSON {
	t.Helper()
	out, err := exec.Command(bin, "init", "--dir", dir, "--json").Output()
	if err != nil {
		t.Fatalf("init: %v", err)
	}
	var res initJSON
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("init --json printed %q: %v", out, err)
	}
	return res
}

// serve starts `filegate serve --config` and waits for /healthz.
func serve(t *testing.T, dir, addr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve", "--config", filepath.Join(dir, "gateway.toml"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
	})
	waitHealthy(t, "http://"+addr, &stderr)
}

func waitHealthy(t *testing.T, base string, logs *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway not healthy at %s: %v\n%s", base, err, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestInitJSONAndKeepsExistingConfig(t *testing.T) {
	dir := t.TempDir()
	addr := writeConfig(t, dir)
	custom, _ := os.ReadFile(filepath.Join(dir, "gateway.toml"))
	res := initDir(t, dir)
	if !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(res.AssociationKey) || !strings.HasPrefix(res.AccessKey, "AK_") || !strings.HasPrefix(res.SecretKey, "sk_live_") {
		t.Fatalf("init --json = %+v", res)
	}
	if res.HTTP != addr || res.FTP != "off" || res.SFTP != "off" {
		t.Fatalf("listeners in init --json = %q %q %q, want the config's", res.HTTP, res.FTP, res.SFTP)
	}
	for _, f := range []string{"data/filegate.db", "data/ssh_host_ed25519_key", "data/ssh_host_rsa_key", "data/tls_cert.pem", "data/tls_key.pem"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("init did not create %s: %v", f, err)
		}
	}
	again := initDir(t, dir)
	if again.AssociationKey != res.AssociationKey || again.SecretKey != "" {
		t.Fatalf("second init = %+v: want the same tenant and no new secret", again)
	}
	if now, _ := os.ReadFile(filepath.Join(dir, "gateway.toml")); !bytes.Equal(now, custom) {
		t.Fatal("init overwrote an existing gateway.toml")
	}
	if out, err := exec.Command(bin, "init", "--dir", t.TempDir(), "--bogus").CombinedOutput(); err == nil || !strings.Contains(string(out), "bogus") {
		t.Fatalf("unknown flag: err %v, output %q", err, out)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	for text, want := range map[string]string{
		"[http]\nlisen = \"127.0.0.1:1\"\n": "http.lisen",
		"[ftp]\ntls = 3\n":                  "tls",
		"[ftp]\ntls = \"sometimes\"\n":      "ftp.tls",
		"data_dir = \"d\"\n[http\n":         "line",
		"[ftp]\npassive_ports = \"9-1\"\n":  "passive_ports",
		"[[storage]]\nname = \"default\"\n": "plugin",
	} {
		os.WriteFile(filepath.Join(dir, "gateway.toml"), []byte(text), 0o644)
		out, err := exec.Command(bin, "serve", "--config", filepath.Join(dir, "gateway.toml")).CombinedOutput()
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("config %q: err %v, output %q; want an error naming %q", text, err, out, want)
		}
	}
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// httpie runs a shell command in a pseudo-terminal (HTTPie, like a person at a shell,
// reads stdin unless it is a terminal) and returns its output without colours.
func httpie(t *testing.T, dir, command string) string {
	t.Helper()
	script := filepath.Join(dir, "cmd.sh")
	os.WriteFile(script, []byte(command+"\n"), 0o755)
	cmd := exec.Command("script", "-qec", "bash "+script, "/dev/null")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s\n%v\n%s", command, err, out)
	}
	return strings.ReplaceAll(ansi.ReplaceAllString(string(out), ""), "\r", "")
}

// jsonBody returns the JSON object in HTTPie's output (after the headers).
func jsonBody(t *testing.T, out string) map[string]any {
	t.Helper()
	i := strings.Index(out, "\n{")
	if i < 0 {
		t.Fatalf("no JSON in %q", out)
	}
	var m map[string]any
	if err := json.NewDecoder(strings.NewReader(out[i:])).Decode(&m); err != nil {
		t.Fatalf("decoding %q: %v", out[i:], err)
	}
	return m
}

// TestReferenceHTTPieExamples runs the reference docs' HTTPie examples verbatim, with
// only the host and the placeholder values replaced, against a real `filegate serve`.
func TestReferenceHTTPieExamples(t *testing.T) {
	if _, err := exec.LookPath("http"); err != nil {
		t.Skip("HTTPie (Debian package httpie) is not installed")
	}
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script (Debian package bsdutils) is not installed")
	}
	dir := t.TempDir()
	addr := writeConfig(t, dir)
	keys := initDir(t, dir)
	serve(t, dir, addr)
	host := "http://" + addr
	fill := strings.NewReplacer(
		"https://api.ftpgrid.com", host, "https://serverN.ftpgrid.com", host,
		`"f7bd3870-xxxxxx-xxxxx..."`, `"`+keys.AssociationKey+`"`,
		`"AK_xxxxxxxxxxxxxxxxx"`, `"`+keys.AccessKey+`"`,
		`"sk_live_xxxxxxxxxxxxxxxxx"`, `"`+keys.SecretKey+`"`,
	)
	// ftpgrid-api-intro.txt, "Authentication".
	auth := httpie(t, dir, fill.Replace(`http POST https://api.ftpgrid.com/apiaccess/auth \
AssociationKey="f7bd3870-xxxxxx-xxxxx..." \
AccessKey="AK_xxxxxxxxxxxxxxxxx" \
SecretKey="sk_live_xxxxxxxxxxxxxxxxx"`))
	if !strings.Contains(auth, "HTTP/1.1 200 OK") {
		t.Fatalf("auth: %s", auth)
	}
	token, _ := jsonBody(t, auth)["token"].(string)
	if token == "" {
		t.Fatalf("no token in %s", auth)
	}
	withToken := strings.NewReplacer("YOUR_TOKEN", token)

	// "Creating an FTP Account".
	created := httpie(t, dir, withToken.Replace(fill.Replace(`http POST https://api.ftpgrid.com/ftpaccounts/create \
Authorization:"Bearer YOUR_TOKEN" \
Username="camera01" \
Password="StrongPassword123!" \
AccessRights="RW" \
Chroot="/uploads"`)))
	if !strings.Contains(created, "HTTP/1.1 201 Created") {
		t.Fatalf("create: %s", created)
	}
	acct := jsonBody(t, created)
	if acct["Username"] != "camera01" || acct["Chroot"] != "/uploads" || acct["AccessRights"] != "RW" {
		t.Fatalf("created %v", acct)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "storage", "uploads")); err != nil {
		t.Errorf("the chroot folder was not created: %v", err)
	}

	// ftpgrid-rest-api-launch.txt, "Example upload flow".
	os.WriteFile(filepath.Join(dir, "invoice.pdf"), []byte("%PDF-1.4 invoice 42\n"), 0o644)
	up := httpie(t, dir, withToken.Replace(fill.Replace(`http --form POST https://serverN.ftpgrid.com/api/upload \
Authorization:"Bearer YOUR_TOKEN" \
f1@"./invoice.pdf" \
meta='{
"files":[
{
"field":"f1",
"path":"customers/2026/"
}
]
}'`)))
	if !strings.Contains(up, "HTTP/1.1 201 Created") {
		t.Fatalf("upload: %s", up)
	}
	got, err := os.ReadFile(filepath.Join(dir, "data", "storage", "customers", "2026", "invoice.pdf"))
	if err != nil || string(got) != "%PDF-1.4 invoice 42\n" {
		t.Fatalf("uploaded file: %q %v", got, err)
	}

	// "Deleting an FTP Account", with the id the create returned.
	id := fmt.Sprint(acct["Id"])
	del := httpie(t, dir, withToken.Replace(fill.Replace(`http DELETE https://api.ftpgrid.com/ftpaccounts/id/1234 \
Authorization:"Bearer YOUR_TOKEN"`)))
	if !strings.Contains(del, "404 Not Found") {
		t.Fatalf("deleting a missing account: %s", del)
	}
	del = httpie(t, dir, strings.Replace(withToken.Replace(fill.Replace(`http DELETE https://api.ftpgrid.com/ftpaccounts/id/1234 \
Authorization:"Bearer YOUR_TOKEN"`)), "1234", id, 1))
	if !strings.Contains(del, "HTTP/1.1 200 OK") {
		t.Fatalf("delete: %s", del)
	}
}

func TestKeysCommands(t *testing.T) {
	dir := t.TempDir()
	addr := writeConfig(t, dir)
	keys := initDir(t, dir)
	cfg := filepath.Join(dir, "gateway.toml")
	out, err := exec.Command(bin, "keys", "create", "--config", cfg, "--scopes", "file.read,file.list", "--expires", "720h", "--path-prefix", "/reports").CombinedOutput()
	if err != nil {
		t.Fatalf("keys create: %v\n%s", err, out)
	}
	fields := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			fields[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if fields["AssociationKey"] != keys.AssociationKey || !strings.HasPrefix(fields["AccessKey"], "AK_") || fields["Scopes"] != "file.list file.read" {
		t.Fatalf("keys create printed %q", out)
	}
	exp, err := time.Parse(time.RFC3339, fields["ExpiresAt"])
	if err != nil || time.Until(exp) < 719*time.Hour || time.Until(exp) > 721*time.Hour {
		t.Fatalf("ExpiresAt %q: want 720h from now", fields["ExpiresAt"])
	}
	list, err := exec.Command(bin, "keys", "list", "--config", cfg).CombinedOutput()
	if err != nil || !strings.Contains(string(list), fields["AccessKey"]) || !strings.Contains(string(list), "/reports") || !strings.Contains(string(list), keys.AccessKey) {
		t.Fatalf("keys list: %v\n%s", err, list)
	}
	if out, err := exec.Command(bin, "keys", "create", "--config", cfg, "--scopes", "file.fly").CombinedOutput(); err == nil || !strings.Contains(string(out), "file.fly") {
		t.Fatalf("unknown scope: %v %s", err, out)
	}

	serve(t, dir, addr)
	authBody := func(ak, sk string) string {
		b, _ := json.Marshal(map[string]string{"AssociationKey": keys.AssociationKey, "AccessKey": ak, "SecretKey": sk})
		return string(b)
	}
	resp, err := http.Post("http://"+addr+"/apiaccess/auth", "application/json", strings.NewReader(authBody(fields["AccessKey"], fields["SecretKey"])))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("auth with the CLI-created key: %v %v", err, resp.Status)
	}
	resp.Body.Close()
	if out, err := exec.Command(bin, "keys", "revoke", fields["AccessKey"], "--config", cfg).CombinedOutput(); err != nil {
		t.Fatalf("keys revoke: %v %s", err, out)
	}
	resp, _ = http.Post("http://"+addr+"/apiaccess/auth", "application/json", strings.NewReader(authBody(fields["AccessKey"], fields["SecretKey"])))
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("auth after revoke: %s", resp.Status)
	}
	if out, err := exec.Command(bin, "keys", "revoke", "AK_nope", "--config", cfg).CombinedOutput(); err == nil || !strings.Contains(string(out), "AK_nope") {
		t.Fatalf("revoking a missing key: %v %s", err, out)
	}
}

// TestServeInitialisesEmptyFolder is README's first command: `filegate serve` in an
// empty folder initialises it, prints the keys once and serves on 127.0.0.1:8080.
func TestServeInitialisesEmptyFolder(t *testing.T) {
	if ln, err := net.Listen("tcp", "127.0.0.1:8080"); err != nil {
		t.Skip("127.0.0.1:8080 is busy; the default listener cannot be tested here")
	} else {
		ln.Close()
	}
	dir := t.TempDir()
	// FTP and SFTP defaults may be taken by other tests; the README command leaves them on.
	run := func() (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
		cmd := exec.Command(bin, "serve")
		cmd.Dir = dir
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitHealthy(t, "http://127.0.0.1:8080", &stderr)
		return cmd, &stdout, &stderr
	}
	stop := func(cmd *exec.Cmd) {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Error("serve did not stop on SIGINT within 10s")
		}
	}
	cmd, stdout, _ := run()
	stop(cmd)
	if !strings.Contains(stdout.String(), "SecretKey:      sk_live_") {
		t.Fatalf("first start did not print the keys:\n%s", stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "gateway.toml")); err != nil {
		t.Fatal("first start wrote no gateway.toml")
	}
	cmd, stdout, _ = run()
	stop(cmd)
	if strings.Contains(stdout.String(), "sk_live_") {
		t.Fatalf("second start printed a secret again:\n%s", stdout)
	}
}

func TestVersion(t *testing.T) {
	out, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "filegate ") || !strings.Contains(string(out), "host API "+hostapi.Version) {
		t.Fatalf("version: %v %q", err, out)
	}
}
