package httpapi_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/filegate/filegate/core/accounts"
	"github.com/filegate/filegate/core/config"
	"github.com/filegate/filegate/core/gateway/gatewaytest"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/ssh"
)

type ftpAccount struct {
	Id                 int64
	Username           string
	Password           string
	SSHPublicKeys      []string
	SSHKeyFingerprints []string
	AccessRights       string
	Chroot             string
	Description        string
	Enabled            bool
	AllowedIPs         []string
}

type listOf[T any] struct {
	Data   []T `json:"data"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
	Total  int `json:"total"`
}

type apiErr struct {
	Error string `json:"error"`
}

func TestAuthIssuesTokenAndRefusesBadKeys(t *testing.T) {
	e := gatewaytest.Start(t, "", nil)
	var ok struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if s := e.Do("POST", "/apiaccess/auth", "", map[string]string{"AssociationKey": e.AssociationKey, "AccessKey": e.AccessKey, "SecretKey": e.SecretKey}, &ok); s != 200 {
		t.Fatalf("auth status %d", s)
	}
	if ok.Token == "" || time.Until(ok.ExpiresAt) < 14*time.Minute || time.Until(ok.ExpiresAt) > 16*time.Minute {
		t.Fatalf("token %q expires_at %v: want a token valid ~15 min", ok.Token, ok.ExpiresAt)
	}
	for name, body := range map[string]map[string]string{
		"wrong secret":      {"AssociationKey": e.AssociationKey, "AccessKey": e.AccessKey, "SecretKey": e.SecretKey + "x"},
		"wrong association": {"AssociationKey": "f7bd3870-0000-0000-0000-000000000000", "AccessKey": e.AccessKey, "SecretKey": e.SecretKey},
		"unknown access":    {"AssociationKey": e.AssociationKey, "AccessKey": "AK_nobody", "SecretKey": e.SecretKey},
	} {
		var er apiErr
		if s := e.Do("POST", "/apiaccess/auth", "", body, &er); s != 401 || er.Error == "" {
			t.Errorf("%s: status %d error %q, want 401 with a message", name, s, er.Error)
		}
	}
	for name, raw := range map[string]string{
		"malformed":     `{"AssociationKey": `,
		"unknown field": `{"AssociationKey":"a","AccessKey":"b","SecretKey":"c","Extra":1}`,
		"wrong type":    `{"AssociationKey":1,"AccessKey":"b","SecretKey":"c"}`,
		"missing key":   `{"AssociationKey":"a","AccessKey":"b"}`,
		"empty":         ``,
	} {
		var er apiErr
		if s := e.Do("POST", "/apiaccess/auth", "", raw, &er); s != 400 || er.Error == "" {
			t.Errorf("%s: status %d error %q, want 400 with a message", name, s, er.Error)
		}
	}
}

func TestBearerTokenChecks(t *testing.T) {
	e := gatewaytest.Start(t, "", nil)
	tok := e.Token()
	if s := e.Do("GET", "/ftpaccounts/list", tok, nil, nil); s != 200 {
		t.Fatalf("valid token: status %d", s)
	}
	// Forge tokens: alg=none, another key, an expired one, a wrong tenant.
	parts := strings.Split(tok, ".")
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "filegate", "sub": e.AccessKey, "tid": 1, "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte("not the key"))
	var c map[string]any
	json.Unmarshal(claims, &c)
	tampered := map[string]any{}
	for k, v := range c {
		tampered[k] = v
	}
	tampered["tid"] = 2
	tb, _ := json.Marshal(tampered)
	wrongTenant := parts[0] + "." + base64.RawURLEncoding.EncodeToString(tb) + "." + parts[2]
	for name, bad := range map[string]string{"alg none": none, "other key": forged, "tampered tenant": wrongTenant, "garbage": "abc.def.ghi", "truncated": tok[:len(tok)-3]} {
		if s := e.Do("GET", "/ftpaccounts/list", bad, nil, nil); s != 401 {
			t.Errorf("%s: status %d, want 401", name, s)
		}
	}
	if s := e.Do("GET", "/ftpaccounts/list", "", nil, nil); s != 401 {
		t.Errorf("no token: status %d, want 401", s)
	}
}

func TestShortTokenLifetimeExpires(t *testing.T) {
	e := gatewaytest.Start(t, "", func(c *config.Config) { c.HTTP.TokenTTL = config.Duration(time.Second) })
	tok := e.Token()
	if s := e.Do("GET", "/ftpaccounts/list", tok, nil, nil); s != 200 {
		t.Fatalf("fresh token: %d", s)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.Do("GET", "/ftpaccounts/list", tok, nil, nil) != 401 {
		if time.Now().After(deadline) {
			t.Fatal("a token with a 1s lifetime was still accepted after 10s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func createKey(t *testing.T, e *gatewaytest.Env, token string, body map[string]any) (access, secret string) {
	t.Helper()
	var out struct{ AccessKey, SecretKey, AssociationKey string }
	if s := e.Do("POST", "/apiaccounts", token, body, &out); s != 201 {
		t.Fatalf("create REST API account %v: status %d", body, s)
	}
	if out.SecretKey == "" || out.AssociationKey != e.AssociationKey {
		t.Fatalf("create response %+v lacks the keys", out)
	}
	return out.AccessKey, out.SecretKey
}

func TestRevokeAndExpiryInvalidateTokensAtOnce(t *testing.T) {
	e := gatewaytest.Start(t, "", nil)
	admin := e.Token()
	ak, sk := createKey(t, e, admin, map[string]any{"Scopes": []string{"ftpaccount.list"}})
	tok := e.Auth(e.AssociationKey, ak, sk)
	if s := e.Do("GET", "/ftpaccounts/list", tok, nil, nil); s != 200 {
		t.Fatalf("before revoke: %d", s)
	}
	if s := e.Do("DELETE", "/apiaccounts/"+ak, admin, nil, nil); s != 200 {
		t.Fatalf("revoke: %d", s)
	}
	if s := e.Do("GET", "/ftpaccounts/list", tok, nil, nil); s != 401 {
		t.Fatalf("after revoke: %d, want 401", s)
	}
	if s := e.Do("DELETE", "/apiaccounts/"+ak, admin, nil, nil); s != 404 {
		t.Fatalf("second revoke: %d, want 404", s)
	}

	ak, sk = createKey(t, e, admin, map[string]any{"Scopes": []string{"ftpaccount.list"}, "ExpiresIn": "2s"})
	tok = e.Auth(e.AssociationKey, ak, sk)
	if s := e.Do("GET", "/ftpaccounts/list", tok, nil, nil); s != 200 {
		t.Fatalf("before expiry: %d", s)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.Do("GET", "/ftpaccounts/list", tok, nil, nil) != 401 {
		if time.Now().After(deadline) {
			t.Fatal("token of an expired REST API account still accepted")
		}
		time.Sleep(200 * time.Millisecond)
	}
	var er apiErr
	for e.Do("POST", "/apiaccess/auth", "", map[string]string{"AssociationKey": e.AssociationKey, "AccessKey": ak, "SecretKey": sk}, &er) != 401 {
		if time.Now().After(deadline) {
			t.Fatal("an expired REST API account still authenticates")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(er.Error, "expired") {
		t.Fatalf("auth of expired account: error %q does not say it expired", er.Error)
	}
}

func TestScopesEnforcedAndNotEscalated(t *testing.T) {
	e := gatewaytest.Start(t, "", nil)
	admin := e.Token()
	ak, sk := createKey(t, e, admin, map[string]any{"Scopes": []string{"ftpaccount.list", "apiaccount.manage"}})
	tok := e.Auth(e.AssociationKey, ak, sk)
	var er apiErr
	if s := e.Do("POST", "/ftpaccounts/create", tok, map[string]any{"Username": "x1", "Password": "StrongPassword123!"}, &er); s != 403 || !strings.Contains(er.Error, "ftpaccount.create") {
		t.Fatalf("create without scope: %d %q, want 403 naming ftpaccount.create", s, er.Error)
	}
	if s := e.Do("GET", "/events", tok, nil, &er); s != 403 || !strings.Contains(er.Error, "event.read") {
		t.Fatalf("events without scope: %d %q", s, er.Error)
	}
	if s := e.Do("POST", "/apiaccounts", tok, map[string]any{"Scopes": []string{"ftpaccount.list", "file.delete"}}, &er); s != 403 || !strings.Contains(er.Error, "file.delete") {
		t.Fatalf("granting a scope it lacks: %d %q, want 403", s, er.Error)
	}
	var keys listOf[struct{ AccessKey string }]
	e.Do("GET", "/apiaccounts", admin, nil, &keys)
	if keys.Total != 2 {
		t.Fatalf("after refused grant there are %d REST API accounts, want 2", keys.Total)
	}
	if s := e.Do("POST", "/apiaccounts", admin, map[string]any{"Scopes": []string{"no.such"}}, &er); s != 400 || !strings.Contains(er.Error, "no.such") {
		t.Fatalf("unknown scope: %d %q", s, er.Error)
	}
}

func TestFTPAccountLifecycle(t *testing.T) {
	e := gatewaytest.Start(t, "", nil)
	tok := e.Token()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	sshPub, _ := ssh.NewPublicKey(pub)
	key := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " cam@site"

	var a ftpAccount
	s := e.Do("POST", "/ftpaccounts/create", tok, map[string]any{
		"Username": "camera01", "Password": "StrongPassword123!", "AccessRights": "RW", "Chroot": "/uploads/./cams//",
		"SSHPublicKeys": []string{key}, "AllowedIPs": []string{"10.0.0.0/8", "192.168.1.7"}, "Description": "gate camera",
	}, &a)
	if s != 201 {
		t.Fatalf("create: %d", s)
	}
	if a.Id == 0 || a.Chroot != "/uploads/cams" || a.Password != "" || !a.Enabled || len(a.SSHPublicKeys) != 1 ||
		strings.Join(a.AllowedIPs, ",") != "10.0.0.0/8,192.168.1.7/32" || a.SSHKeyFingerprints[0] != ssh.FingerprintSHA256(sshPub) {
		t.Fatalf("created account = %+v", a)
	}
	raw := e.Request("GET", fmt.Sprintf("/ftpaccounts/id/%d", a.Id), tok, nil)
	var m map[string]any
	json.NewDecoder(raw.Body).Decode(&m)
	raw.Body.Close()
	if _, leaked := m["Password"]; leaked {
		t.Fatal("GET returns the Password field")
	}
	for _, f := range []string{"Id", "Username", "SSHPublicKeys", "AccessRights", "Chroot", "Description", "Enabled", "AllowedIPs", "CreatedAt", "UpdatedAt"} {
		if _, ok := m[f]; !ok {
			t.Errorf("GET lacks field %s", f)
		}
	}
	// The stored hash is argon2id, and the password logs in.
	st, _ := e.G.Store.FTPAccount(context.Background(), 1, a.Id)
	if !strings.HasPrefix(st.PasswordHash, "$argon2id$") || strings.Contains(st.PasswordHash, "StrongPassword") {
		t.Fatalf("stored password hash %q", st.PasswordHash)
	}

	var up ftpAccount
	if s := e.Do("PUT", fmt.Sprintf("/ftpaccounts/id/%d", a.Id), tok, map[string]any{"AccessRights": "R", "Enabled": false}, &up); s != 200 {
		t.Fatalf("update: %d", s)
	}
	if up.AccessRights != "R" || up.Enabled || up.Chroot != "/uploads/cams" || up.Description != "gate camera" {
		t.Fatalf("partial update changed other fields: %+v", up)
	}
	var rot ftpAccount
	if s := e.Do("POST", fmt.Sprintf("/ftpaccounts/id/%d/rotate-password", a.Id), tok, nil, &rot); s != 200 || len(rot.Password) < 16 {
		t.Fatalf("rotate: %d %q", s, rot.Password)
	}
	after, _ := e.G.Store.FTPAccount(context.Background(), 1, a.Id)
	if after.PasswordHash == st.PasswordHash {
		t.Fatal("rotate did not change the hash")
	}
	// SSH keys: add a second, remove the first by fingerprint.
	pub2, _, _ := ed25519.GenerateKey(rand.Reader)
	sshPub2, _ := ssh.NewPublicKey(pub2)
	var k ftpAccount
	e.Do("POST", fmt.Sprintf("/ftpaccounts/id/%d/sshkeys", a.Id), tok, map[string]string{"PublicKey": string(ssh.MarshalAuthorizedKey(sshPub2))}, &k)
	if len(k.SSHPublicKeys) != 2 {
		t.Fatalf("after add: %d keys", len(k.SSHPublicKeys))
	}
	if s := e.Do("DELETE", fmt.Sprintf("/ftpaccounts/id/%d/sshkeys?fingerprint=%s", a.Id, strings.ReplaceAll(ssh.FingerprintSHA256(sshPub), "+", "%2B")), tok, nil, &k); s != 200 || len(k.SSHPublicKeys) != 1 {
		t.Fatalf("remove key: %d, %d keys left", s, len(k.SSHPublicKeys))
	}
	var l listOf[ftpAccount]
	if s := e.Do("GET", "/ftpaccounts/list?search=cam&limit=10", tok, nil, &l); s != 200 || l.Total != 1 || l.Limit != 10 || len(l.Data) != 1 {
		t.Fatalf("list: %d %+v", s, l)
	}
	if s := e.Do("DELETE", fmt.Sprintf("/ftpaccounts/id/%d", a.Id), tok, nil, nil); s != 200 {
		t.Fatalf("delete: %d", s)
	}
	if s := e.Do("GET", fmt.Sprintf("/ftpaccounts/id/%d", a.Id), tok, nil, nil); s != 404 {
		t.Fatalf("get after delete: %d", s)
	}
}

func TestFTPAccountBadInputChangesNothing(t *testing.T) {
	e := gatewaytest.Start(t, "", nil)
	tok := e.Token()
	if s := e.Do("POST", "/ftpaccounts/create", tok, map[string]any{"Username": "dup", "Password": "StrongPassword123!"}, nil); s != 201 {
		t.Fatalf("create: %d", s)
	}
	cases := []struct {
		name   string
		body   any
		status int
		want   string
	}{
		{"duplicate username", map[string]any{"Username": "dup", "Password": "StrongPassword123!"}, 409, "exists"},
		{"bad CIDR", map[string]any{"Username": "u1", "Password": "StrongPassword123!", "AllowedIPs": []string{"10.0.0.0/33"}}, 400, "AllowedIPs"},
		{"chroot escape", map[string]any{"Username": "u2", "Password": "StrongPassword123!", "Chroot": "/a/../../etc"}, 400, "Chroot"},
		{"encoded chroot escape", map[string]any{"Username": "u2", "Password": "StrongPassword123!", "Chroot": "/%2e%2e/etc"}, 400, "Chroot"},
		{"bad rights", map[string]any{"Username": "u3", "Password": "StrongPassword123!", "AccessRights": "X"}, 400, "AccessRights"},
		{"bad ssh key", map[string]any{"Username": "u4", "SSHPublicKeys": []string{"ssh-rsa not-base64!"}}, 400, "SSHPublicKeys"},
		{"short password", map[string]any{"Username": "u5", "Password": "short"}, 400, "Password"},
		{"bad username", map[string]any{"Username": "../root", "Password": "StrongPassword123!"}, 400, "Username"},
		{"no username", map[string]any{"Password": "StrongPassword123!"}, 400, "Username"},
		{"unknown field", map[string]any{"Username": "u6", "Password": "StrongPassword123!", "Admin": true}, 400, "Admin"},
		{"wrong type", map[string]any{"Username": "u7", "Enabled": "yes"}, 400, "Enabled"},
		{"oversized", `{"Username":"u8","Description":"` + strings.Repeat("x", 2<<20) + `"}`, 413, "limit"},
		{"malformed", `{"Username":`, 400, "JSON"},
	}
	for _, c := range cases {
		var er apiErr
		if s := e.Do("POST", "/ftpaccounts/create", tok, c.body, &er); s != c.status || !strings.Contains(er.Error, c.want) {
			t.Errorf("%s: %d %q, want %d mentioning %q", c.name, s, er.Error, c.status, c.want)
		}
	}
	var l listOf[ftpAccount]
	e.Do("GET", "/ftpaccounts/list", tok, nil, &l)
	if l.Total != 1 {
		t.Fatalf("bad requests changed the store: %d accounts", l.Total)
	}
	if s := e.Do("GET", "/ftpaccounts/id/abc", tok, nil, nil); s != 400 {
		t.Errorf("non-numeric id: %d", s)
	}
	if s := e.Do("PATCH", "/ftpaccounts/id/1", tok, nil, nil); s != 405 {
		t.Errorf("PATCH: %d, want 405", s)
	}
	if s := e.Do("GET", "/nope", tok, nil, nil); s != 404 {
		t.Errorf("unknown path: %d", s)
	}
}

func TestTenantIsolation(t *testing.T) {
	e := gatewaytest.Start(t, "", nil)
	ctx := context.Background()
	tok1 := e.Token()
	var a ftpAccount
	e.Do("POST", "/ftpaccounts/create", tok1, map[string]any{"Username": "t1user", "Password": "StrongPassword123!"}, &a)

	t2, err := e.G.Store.CreateTenant(ctx, "second", "default", "/tenant2")
	if err != nil {
		t.Fatal(err)
	}
	acct, secret, err := e.G.Accounts.CreateAPIAccount(ctx, t2.ID, nil, accounts.NewAPIAccount{Scopes: []string{"ftpaccount.list", "ftpaccount.get", "ftpaccount.delete", "ftpaccount.update", "apiaccount.manage", "event.read"}})
	if err != nil {
		t.Fatal(err)
	}
	tok2 := e.Auth(t2.AssociationKey, acct.AccessKey, secret)
	var l listOf[ftpAccount]
	e.Do("GET", "/ftpaccounts/list", tok2, nil, &l)
	if l.Total != 0 {
		t.Fatalf("tenant 2 sees %d of tenant 1's accounts", l.Total)
	}
	for _, m := range []string{"GET", "DELETE"} {
		if s := e.Do(m, fmt.Sprintf("/ftpaccounts/id/%d", a.Id), tok2, nil, nil); s != 404 {
			t.Errorf("%s of another tenant's account: %d, want 404", m, s)
		}
	}
	if s := e.Do("PUT", fmt.Sprintf("/ftpaccounts/id/%d", a.Id), tok2, map[string]any{"Enabled": false}, nil); s != 404 {
		t.Errorf("PUT of another tenant's account: %d", s)
	}
	if s := e.Do("DELETE", "/apiaccounts/"+e.AccessKey, tok2, nil, nil); s != 404 {
		t.Errorf("revoking another tenant's key: %d", s)
	}
	// Tenant 1's keys with tenant 2's AssociationKey do not authenticate.
	if s := e.Do("POST", "/apiaccess/auth", "", map[string]string{"AssociationKey": t2.AssociationKey, "AccessKey": e.AccessKey, "SecretKey": e.SecretKey}, nil); s != 401 {
		t.Errorf("cross-tenant auth: %d", s)
	}
	if s := e.Do("GET", fmt.Sprintf("/ftpaccounts/id/%d", a.Id), tok1, nil, nil); s != 200 {
		t.Errorf("tenant 1 lost its account: %d", s)
	}
}

func TestRateLimit(t *testing.T) {
	e := gatewaytest.Start(t, "", func(c *config.Config) {
		c.HTTP.RateLimit = 3
		c.HTTP.RateWindow = config.Duration(time.Hour)
	})
	tok := e.Token()
	for i := 0; i < 3; i++ {
		resp := e.Request("GET", "/ftpaccounts/list", tok, nil)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("X-RateLimit-Limit") != "3" || resp.Header.Get("X-RateLimit-Remaining") != fmt.Sprint(2-i) {
			t.Fatalf("request %d: %d limit %q remaining %q", i, resp.StatusCode, resp.Header.Get("X-RateLimit-Limit"), resp.Header.Get("X-RateLimit-Remaining"))
		}
	}
	resp := e.Request("GET", "/ftpaccounts/list", tok, nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("4th request: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	e := gatewaytest.Start(t, "", nil)
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if s := e.Do("GET", "/openapi.json", "", nil, &doc); s != 200 || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi: %d %q", s, doc.OpenAPI)
	}
	routes := e.G.Routes()
	if len(routes) < 15 {
		t.Fatalf("only %d routes", len(routes))
	}
	for _, r := range routes {
		method, path, _ := strings.Cut(r, " ")
		op := doc.Paths[path][strings.ToLower(method)]
		if op == nil {
			t.Errorf("route %s is not in /openapi.json", r)
			continue
		}
		if op["summary"] == "" || op["responses"] == nil {
			t.Errorf("route %s lacks a summary or responses", r)
		}
	}
}

func TestHealthzAndMetrics(t *testing.T) {
	e := gatewaytest.Start(t, "", nil)
	if s := e.Do("GET", "/healthz", "", nil, nil); s != 200 {
		t.Fatalf("healthz: %d", s)
	}
	e.Do("GET", "/ftpaccounts/list", "", nil, nil) // a 401
	resp := e.Request("GET", "/metrics", "", nil)
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 1<<16)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	for _, want := range []string{
		`filegate_http_requests_total{route="GET /healthz",status="200"} 1`,
		`filegate_http_requests_total{route="GET /ftpaccounts/list",status="401"} 1`,
		`filegate_http_request_duration_seconds_count{route="GET /healthz"} 1`,
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
