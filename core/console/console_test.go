package console_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/filegate/filegate/core/console"
	"github.com/filegate/filegate/core/gateway/gatewaytest"
)

func get(t *testing.T, e *gatewaytest.Env, method, path string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestServedAtRootBesideTheAPI(t *testing.T) {
	e := gatewaytest.Start(t, "", nil)
	resp, body := get(t, e, "GET", "/", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, `src="/app.js"`) {
		t.Fatalf("GET /: %d %s %.80q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	for _, p := range []string{"/app.js", "/api.js", "/ui.js", "/app.css", "/favicon.svg"} {
		resp, body := get(t, e, "GET", p, nil)
		if resp.StatusCode != 200 || body == "" {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
		etag := resp.Header.Get("ETag")
		if resp, _ := get(t, e, "GET", p, map[string]string{"If-None-Match": etag}); etag == "" || resp.StatusCode != 304 {
			t.Errorf("GET %s with If-None-Match %s: %d, want 304", p, etag, resp.StatusCode)
		}
	}
	if resp, body := get(t, e, "HEAD", "/", nil); resp.StatusCode != 200 || body != "" {
		t.Errorf("HEAD /: %d %q", resp.StatusCode, body)
	}
	if resp, body := get(t, e, "GET", "/no-such-page", nil); resp.StatusCode != 404 || !strings.Contains(body, "console") {
		t.Errorf("GET /no-such-page: %d %q", resp.StatusCode, body)
	}
	// The API's own prefixes keep their JSON 404, and other methods are not the console's.
	for _, c := range []struct{ method, path string }{{"GET", "/api/nope"}, {"GET", "/ftpaccounts/nope/x"}, {"GET", "/events/x"}, {"POST", "/"}, {"DELETE", "/app.js"}} {
		resp, body := get(t, e, c.method, c.path, nil)
		if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || !strings.Contains(body, `"error"`) {
			t.Errorf("%s %s: %d %s %q, want the JSON 404", c.method, c.path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
}

func TestLoginLinkWorksOnce(t *testing.T) {
	e := gatewaytest.Start(t, "", nil)
	ctx := context.Background()
	tenants, err := e.G.Store.Tenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	code, err := console.CreateLink(ctx, e.G.Store, tenants[0].ID, console.LinkOptions{Scopes: []string{"file.list,event.read"}, Session: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if u := console.LinkURL("http://h:1/", code); u != "http://h:1/#link="+code {
		t.Errorf("LinkURL = %q", u)
	}
	var keys struct {
		AssociationKey, AccessKey, SecretKey string
		Scopes                               []string
		ExpiresAt                            time.Time
	}
	if st := e.Do("POST", "/apiaccess/console-link", "", map[string]string{"Code": code}, &keys); st != 201 {
		t.Fatalf("redeem: status %d", st)
	}
	if keys.AssociationKey != e.AssociationKey || !strings.HasPrefix(keys.SecretKey, "sk_live_") || strings.Join(keys.Scopes, " ") != "event.read file.list" {
		t.Errorf("redeemed keys = %+v", keys)
	}
	if d := time.Until(keys.ExpiresAt); d < 59*time.Minute || d > time.Hour {
		t.Errorf("session account expires in %s, want 1h", d)
	}
	tok := e.Auth(keys.AssociationKey, keys.AccessKey, keys.SecretKey)
	if st := e.Do("GET", "/events", tok, nil, nil); st != 200 {
		t.Errorf("GET /events with the session: %d", st)
	}
	if st := e.Do("GET", "/ftpaccounts/list", tok, nil, nil); st != 403 {
		t.Errorf("GET /ftpaccounts/list without the scope: %d, want 403", st)
	}
	var out struct{ Error string }
	if st := e.Do("POST", "/apiaccess/console-link", "", map[string]string{"Code": code}, &out); st != 401 || !strings.Contains(out.Error, "already used") {
		t.Errorf("second redeem: %d %q, want 401", st, out.Error)
	}
	if st := e.Do("POST", "/apiaccess/console-link", "", map[string]string{"Code": ""}, nil); st != 400 {
		t.Errorf("empty code: %d, want 400", st)
	}

	short, err := console.CreateLink(ctx, e.G.Store, tenants[0].ID, console.LinkOptions{Valid: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if st := e.Do("POST", "/apiaccess/console-link", "", map[string]string{"Code": short}, nil); st != 401 {
		t.Errorf("expired link: %d, want 401", st)
	}
	if _, err := console.CreateLink(ctx, e.G.Store, tenants[0].ID, console.LinkOptions{Scopes: []string{"file.fly"}}); err == nil || !strings.Contains(err.Error(), "file.fly") {
		t.Errorf("unknown scope: %v", err)
	}
}

func TestOverview(t *testing.T) {
	e := gatewaytest.Start(t, "", nil)
	var o struct {
		Listeners []struct{ Protocol, Addr, TLS string }
		Storage   []struct {
			Name string
			OK   bool
		}
		FTPAccounts *int `json:"ftp_accounts"`
		EventsToday *int `json:"events_today"`
		Bans        *int `json:"bans"`
	}
	if st := e.Do("GET", "/overview", e.Token(), nil, &o); st != 200 {
		t.Fatalf("GET /overview: %d", st)
	}
	if len(o.Listeners) != 3 || o.Listeners[0].Protocol != "http" || "http://"+o.Listeners[0].Addr != e.URL || o.Listeners[1].Addr != "off" {
		t.Errorf("listeners = %+v", o.Listeners)
	}
	if len(o.Storage) != 1 || o.Storage[0].Name != "default" || !o.Storage[0].OK {
		t.Errorf("storage = %+v", o.Storage)
	}
	if o.FTPAccounts == nil || o.EventsToday == nil || o.Bans == nil {
		t.Errorf("counts missing for the admin key: %+v", o)
	}
	var k struct{ AssociationKey, AccessKey, SecretKey string }
	if st := e.Do("POST", "/apiaccounts", e.Token(), map[string]any{"Scopes": []string{"file.read"}}, &k); st != 201 {
		t.Fatalf("create key: %d", st)
	}
	var limited map[string]any
	if st := e.Do("GET", "/overview", e.Auth(k.AssociationKey, k.AccessKey, k.SecretKey), nil, &limited); st != 200 {
		t.Fatalf("GET /overview with file.read: %d", st)
	}
	for _, c := range []string{"ftp_accounts", "api_accounts", "events_today"} {
		if _, ok := limited[c]; ok {
			t.Errorf("a file.read key sees %s", c)
		}
	}
	if st := e.Do("GET", "/overview", "", nil, nil); st != 401 {
		t.Errorf("GET /overview without a token: %d", st)
	}
}
