package httpapi

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/filegate/filegate/core/accounts"
	"github.com/filegate/filegate/core/auth"
	"github.com/filegate/filegate/core/store"
	"github.com/valyala/fasthttp"
)

// fuzzAPI is an API over a real SQLite store, driven in-process.
func fuzzAPI(f *testing.F) (api *API, token string) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite", filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	tn, _ := st.CreateTenant(ctx, "fuzz", "default", "/")
	svc := &accounts.Service{Store: st, Tokens: auth.NewTokens([]byte("fuzz-key-0123456789abcdef0123456"), time.Hour)}
	a, _, err := svc.CreateAPIAccount(ctx, tn.ID, nil, accounts.NewAPIAccount{Scopes: auth.AllScopes})
	if err != nil {
		f.Fatal(err)
	}
	token, _, _ = svc.Tokens.Issue(tn.ID, a.AccessKey, time.Time{})
	return New(Options{Accounts: svc, Store: st}), token
}

// serveBody sends one request through the handler in-process and checks the invariants
// every response keeps: a known 2xx/4xx status, never 500, and a JSON body.
func serveBody(t *testing.T, api *API, method, path, token string, body []byte) int {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(path)
	if token != "" {
		ctx.Request.Header.Set("Authorization", "Bearer "+token)
	}
	ctx.Request.SetBody(body)
	api.Handler(&ctx)
	status := ctx.Response.StatusCode()
	if status >= 500 {
		t.Fatalf("%s %s with %q: status %d: %s", method, path, body, status, ctx.Response.Body())
	}
	if !json.Valid(ctx.Response.Body()) {
		t.Fatalf("%s %s with %q: response is not JSON: %q", method, path, body, ctx.Response.Body())
	}
	return status
}

func FuzzAuthRequest(f *testing.F) {
	api, _ := fuzzAPI(f)
	for _, s := range []string{`{"AssociationKey":"a","AccessKey":"AK_x","SecretKey":"sk_live_y"}`, `{}`, `[]`, `null`, `{"AccessKey":1}`, `{"a":"b"}{}`, "\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		switch s := serveBody(t, api, "POST", "/apiaccess/auth", "", body); s {
		case 400, 401, 413:
		default:
			t.Fatalf("auth with %q: status %d, want 400, 401 or 413", body, s)
		}
	})
}

func FuzzFTPAccountCreate(f *testing.F) {
	api, token := fuzzAPI(f)
	for _, s := range []string{
		`{"Username":"camera01","Password":"StrongPassword123!","AccessRights":"RW","Chroot":"/uploads"}`,
		`{"Username":"u","AllowedIPs":["10.0.0.0/8"],"SSHPublicKeys":["ssh-ed25519 AAAA"]}`,
		`{"Username":"x","Chroot":"/../a"}`, `{"Username":"y","Enabled":"no"}`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s := serveBody(t, api, "POST", "/ftpaccounts/create", token, body)
		switch s {
		case 201:
			var in accounts.FTPAccountInput
			if json.Unmarshal(body, &in) != nil || in.Username == nil {
				t.Fatalf("created an account from %q", body)
			}
		case 400, 409, 413:
		default:
			t.Fatalf("create with %q: status %d", body, s)
		}
	})
}
