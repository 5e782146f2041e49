// Package gatewaytest starts a real Filegate gateway on 127.0.0.1 for tests and gives
// them an HTTP client that speaks its API.
package gatewaytest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/filegate/filegate/core/config"
	"github.com/filegate/filegate/core/gateway"
	"github.com/filegate/filegate/core/store/storetest"
)

// Env is a running gateway.
type Env struct {
	T              testing.TB
	Dir            string
	G              *gateway.Gateway
	URL            string // http://127.0.0.1:PORT
	AssociationKey string
	AccessKey      string
	SecretKey      string
	token          string
}

// Start initialises a temporary directory with gateway.toml holding text (may be ""),
// then points every listener at 127.0.0.1:0 (HTTP) or off (FTP, SFTP), turns rate
// limits off, lets adjust change anything, and runs the gateway until the test ends.
func Start(t testing.TB, text string, adjust func(*config.Config)) *Env {
	t.Helper()
	dir := t.TempDir()
	if d := storetest.Default(); d != "sqlite" && !strings.Contains(text, "[store]") {
		// One switch (FILEGATE_TEST_STORE=postgres) runs every gateway test on PostgreSQL.
		text += fmt.Sprintf("\n[store]\ndriver = %q\ndsn = %q\n", d, storetest.DSN(t, d))
	}
	if err := os.WriteFile(filepath.Join(dir, "gateway.toml"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	seedHostKeys(t, dir, text)
	cfg, res, err := gateway.Init(context.Background(), dir)
	if err != nil {
		t.Fatalf("init: %v", err)
	}
	cfg.HTTP.Listen, cfg.FTP.Listen, cfg.SFTP.Listen = "127.0.0.1:0", "off", "off"
	cfg.HTTP.RateLimit = 0
	if adjust != nil {
		adjust(cfg)
	}
	return run(t, dir, cfg, res)
}

var (
	hostKeysOnce sync.Once
	hostKeysDir  string
	hostKeysErr  error
)

// seedHostKeys copies SSH host keys made once per test binary into the data directory,
// so that each test does not pay for a 3072-bit RSA key (init keeps existing keys).
func seedHostKeys(t testing.TB, dir, text string) {
	t.Helper()
	hostKeysOnce.Do(func() {
		if hostKeysDir, hostKeysErr = os.MkdirTemp("", "filegate-hostkeys"); hostKeysErr == nil {
			hostKeysErr = gateway.EnsureHostKeys(hostKeysDir)
		}
	})
	if hostKeysErr != nil {
		t.Fatalf("host keys: %v", hostKeysErr)
	}
	cfg, err := config.Parse(text, filepath.Join(dir, "gateway.toml"))
	if err != nil {
		return // Init reports it
	}
	data := cfg.DataPath()
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{gateway.HostKeyEd25519, gateway.HostKeyRSA} {
		b, err := os.ReadFile(filepath.Join(hostKeysDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func run(t testing.TB, dir string, cfg *config.Config, res gateway.InitResult) *Env {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	g, err := gateway.Open(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- g.Run(ctx, ready) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("run: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("gateway did not stop within 10s")
		}
	})
	e := &Env{T: t, Dir: dir, G: g, AssociationKey: res.AssociationKey, AccessKey: res.AccessKey, SecretKey: res.SecretKey}
	if a := g.Addr("http"); a != nil {
		scheme := "http"
		if cfg.HTTP.TLS {
			scheme = "https"
		}
		e.URL = scheme + "://" + a.String()
	}
	return e
}

// Token authenticates with the admin keys (once) and returns the bearer token.
func (e *Env) Token() string {
	if e.token == "" {
		e.token = e.Auth(e.AssociationKey, e.AccessKey, e.SecretKey)
	}
	return e.token
}

// Auth exchanges three keys for a token, failing the test if that fails.
func (e *Env) Auth(assoc, access, secret string) string {
	e.T.Helper()
	var out struct{ Token string }
	status := e.Do("POST", "/apiaccess/auth", "", map[string]string{"AssociationKey": assoc, "AccessKey": access, "SecretKey": secret}, &out)
	if status != 200 || out.Token == "" {
		e.T.Fatalf("auth: status %d", status)
	}
	return out.Token
}

// Do sends a request with an optional JSON body (a []byte or string is sent as is) and
// bearer token, decodes a JSON response into out when out is not nil, and returns the
// status.
func (e *Env) Do(method, path, token string, body, out any) int {
	e.T.Helper()
	resp := e.Request(method, path, token, body)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			e.T.Fatalf("%s %s: decoding %q: %v", method, path, b, err)
		}
	}
	return resp.StatusCode
}

// Request sends a request and returns the raw response; the caller closes its body.
func (e *Env) Request(method, path, token string, body any) *http.Response {
	e.T.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.T.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.URL+path, r)
	if err != nil {
		e.T.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// Upload stores files (absolute path → bytes) in one multipart POST /api/upload with
// the admin token, replacing what is there, and fails the test unless it answers 201.
func (e *Env) Upload(files map[string][]byte) {
	e.T.Helper()
	type fileMeta struct {
		Field string `json:"field"`
		Path  string `json:"path"`
	}
	meta := struct {
		Files     []fileMeta `json:"files"`
		Overwrite bool       `json:"overwrite"`
	}{Overwrite: true}
	for p := range files {
		meta.Files = append(meta.Files, fileMeta{Field: fmt.Sprintf("f%d", len(meta.Files)), Path: p})
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	m, _ := json.Marshal(meta)
	mw.WriteField("meta", string(m))
	for _, f := range meta.Files {
		w, _ := mw.CreateFormFile(f.Field, path.Base(f.Path))
		w.Write(files[f.Path])
	}
	mw.Close()
	if status, msg := e.PostUpload(mw.FormDataContentType(), &body); status != http.StatusCreated {
		e.T.Fatalf("upload of %d files: status %d: %s", len(files), status, msg)
	}
}

// PostUpload sends body, of the given multipart content type, to POST /api/upload with
// the admin token, and returns the status and the error message of the answer.
func (e *Env) PostUpload(contentType string, body io.Reader) (status int, errMsg string) {
	e.T.Helper()
	req, err := http.NewRequest("POST", e.URL+"/api/upload", body)
	if err != nil {
		e.T.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+e.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct{ Error string }
	json.Unmarshal(b, &out)
	return resp.StatusCode, out.Error
}
