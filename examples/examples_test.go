// Package examples_test checks the example plugins' behaviour through the builtin
// transport, and that the example gateway.toml files parse.
package examples_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/filegate/filegate/core/config"
	"github.com/filegate/filegate/core/plugin"
	"github.com/filegate/filegate/examples/chat"
	"github.com/filegate/filegate/examples/route"
	"github.com/filegate/filegate/examples/sidecar"
	"github.com/filegate/filegate/examples/uploadpolicy"
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/memory"
)

func load(t *testing.T, p hostapi.Plugin, backend hostapi.Storage, cfg map[string]any, allow ...string) *plugin.Plugin {
	t.Helper()
	pl, err := plugin.Load(context.Background(), plugin.Options{
		Name: t.Name(), Plugin: "example", Allow: allow, Config: cfg,
		Builtin: func(string) (hostapi.Plugin, bool) { return p, true },
		Storage: func(name string) (hostapi.Storage, bool) { return backend, name == "default" },
	})
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

func upload(t *testing.T, s hostapi.Storage, p string) hostapi.Event {
	t.Helper()
	ctx := context.Background()
	s.Mkdir(ctx, p[:strings.LastIndex(p, "/")])
	up, err := s.Create(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	up.Write([]byte("%PDF"))
	if err := up.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return hostapi.Event{ID: 7, Type: hostapi.EventFileUploaded, Path: p, Size: 4, Account: "erp", Protocol: "sftp",
		Time: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
}

func TestRoute(t *testing.T) {
	s, _ := memory.Open(nil)
	p := load(t, route.Rule{}, s, nil, "storage:default", "log")
	ev := upload(t, s, "/exports/INV-0042.pdf")
	for range 2 { // a retried delivery is no error
		if err := p.OnEvent(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Stat(context.Background(), "/invoices/2026/INV-0042.pdf"); err != nil {
		t.Fatal(err)
	}
	other := upload(t, s, "/exports/report.csv")
	if err := p.OnEvent(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(context.Background(), other.Path); err != nil {
		t.Fatalf("a file that does not match moved: %v", err)
	}
}

func TestSidecar(t *testing.T) {
	s, _ := memory.Open(nil)
	p := load(t, sidecar.Rule{}, s, nil, "storage:default")
	ev := upload(t, s, "/in/a.pdf")
	if err := p.OnEvent(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(context.Background(), "/in/a.pdf.json", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, _ := io.ReadAll(r)
	if !strings.Contains(string(b), `"account": "erp"`) {
		t.Fatalf("sidecar: %s", b)
	}
}

func TestChat(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
	}))
	defer srv.Close()
	s, _ := memory.Open(nil)
	p := load(t, chat.Rule{}, s, map[string]any{"url": srv.URL}, "http:127.0.0.1")
	if err := p.OnEvent(context.Background(), upload(t, s, "/in/a.pdf")); err != nil {
		t.Fatal(err)
	}
	if msg := <-got; !strings.Contains(msg, `"text":"file.uploaded /in/a.pdf · 4 B · erp via sftp"`) {
		t.Fatalf("message: %s", msg)
	}
	denied := load(t, chat.Rule{}, s, map[string]any{"url": srv.URL})
	if err := denied.OnEvent(context.Background(), upload(t, s, "/in/b.pdf")); err == nil ||
		!strings.Contains(err.Error(), `needs the grant "http:127.0.0.1"`) {
		t.Fatalf("without the grant: %v", err)
	}
}

func TestUploadPolicy(t *testing.T) {
	s, _ := memory.Open(nil)
	p := load(t, uploadpolicy.Policy{}, s, map[string]any{
		"extensions": []any{".pdf"}, "max_size": int64(100),
		"accounts": map[string]any{"camera": map[string]any{"extensions": []any{".jpg"}}},
	})
	for _, c := range []struct {
		op    hostapi.Operation
		allow bool
	}{
		{hostapi.Operation{Action: "upload", Account: "erp", Path: "/a.PDF", Size: 10}, true},
		{hostapi.Operation{Action: "upload", Account: "erp", Path: "/a.exe", Size: 10}, false},
		{hostapi.Operation{Action: "upload", Account: "erp", Path: "/a.pdf", Size: 1000}, false},
		{hostapi.Operation{Action: "upload", Account: "camera", Path: "/a.jpg", Size: 1000}, true},
		{hostapi.Operation{Action: "download", Account: "erp", Path: "/a.exe"}, true},
	} {
		dec, err := p.Authorize(context.Background(), c.op)
		if err != nil || dec.Allow != c.allow || (!dec.Allow && dec.Reason == "") {
			t.Errorf("%+v: %+v, %v", c.op, dec, err)
		}
	}
}

func TestScenarios(t *testing.T) {
	files, _ := filepath.Glob("scenarios/*.toml")
	if len(files) != 3 {
		t.Fatalf("scenarios: %v", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := config.Parse(string(b), f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
