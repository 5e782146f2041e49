package httpapi

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/filegate/filegate/core/accounts"
	"github.com/filegate/filegate/core/auth"
	"github.com/filegate/filegate/core/store"
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/valyala/fasthttp"
)

// routes registers every endpoint. Adding one here documents it in /openapi.json.
func (a *API) routes() {
	r := &a.router
	r.add(&route{method: "POST", pattern: "/apiaccess/auth", tag: "auth", summary: "Exchange AssociationKey, AccessKey and SecretKey for a bearer token",
		body: authRequest{}, resp: authResponse{}, h: a.handleAuth})

	r.add(&route{method: "GET", pattern: "/ftpaccounts/list", tag: "ftpaccounts", auth: true, scope: auth.ScopeFTPAccountList, summary: "List FTP accounts",
		params: []param{{name: "limit"}, {name: "offset"}, {name: "search", desc: "username prefix"}}, resp: list[ftpAccountJSON]{}, h: a.listFTPAccounts})
	r.add(&route{method: "POST", pattern: "/ftpaccounts/create", tag: "ftpaccounts", auth: true, scope: auth.ScopeFTPAccountCreate, summary: "Create an FTP account (a password is generated and returned once when neither Password nor SSHPublicKeys is given)",
		body: accounts.FTPAccountInput{}, resp: ftpAccountJSON{}, status: fasthttp.StatusCreated, h: a.createFTPAccount})
	r.add(&route{method: "GET", pattern: "/ftpaccounts/id/{id}", tag: "ftpaccounts", auth: true, scope: auth.ScopeFTPAccountGet, summary: "Get an FTP account",
		resp: ftpAccountJSON{}, h: a.getFTPAccount})
	r.add(&route{method: "PUT", pattern: "/ftpaccounts/id/{id}", tag: "ftpaccounts", auth: true, scope: auth.ScopeFTPAccountUpdate, summary: "Update an FTP account (fields left out keep their value)",
		body: accounts.FTPAccountInput{}, resp: ftpAccountJSON{}, h: a.updateFTPAccount})
	r.add(&route{method: "DELETE", pattern: "/ftpaccounts/id/{id}", tag: "ftpaccounts", auth: true, scope: auth.ScopeFTPAccountDelete, summary: "Delete an FTP account",
		resp: deletedJSON{}, h: a.deleteFTPAccount})
	r.add(&route{method: "POST", pattern: "/ftpaccounts/id/{id}/rotate-password", tag: "ftpaccounts", auth: true, scope: auth.ScopeFTPAccountUpdate, summary: "Replace the password with a generated one, returned once",
		resp: ftpAccountJSON{}, h: a.rotatePassword})
	r.add(&route{method: "POST", pattern: "/ftpaccounts/id/{id}/sshkeys", tag: "ftpaccounts", auth: true, scope: auth.ScopeFTPAccountUpdate, summary: "Add an SSH public key",
		body: sshKeyRequest{}, resp: ftpAccountJSON{}, h: a.addSSHKey})
	r.add(&route{method: "DELETE", pattern: "/ftpaccounts/id/{id}/sshkeys", tag: "ftpaccounts", auth: true, scope: auth.ScopeFTPAccountUpdate, summary: "Remove the SSH public key with a fingerprint",
		params: []param{{name: "fingerprint", desc: "SHA256:... as ssh-keygen -l prints it", required: true}}, resp: ftpAccountJSON{}, h: a.removeSSHKey})

	r.add(&route{method: "GET", pattern: "/apiaccounts", tag: "apiaccounts", auth: true, scope: auth.ScopeAPIAccountManage, summary: "List REST API accounts",
		params: []param{{name: "limit"}, {name: "offset"}}, resp: list[apiAccountJSON]{}, h: a.listAPIAccounts})
	r.add(&route{method: "POST", pattern: "/apiaccounts", tag: "apiaccounts", auth: true, scope: auth.ScopeAPIAccountManage, summary: "Create a REST API account; SecretKey is shown once. A key can only grant scopes it holds.",
		body: apiAccountRequest{}, resp: apiAccountJSON{}, status: fasthttp.StatusCreated, h: a.createAPIAccount})
	r.add(&route{method: "DELETE", pattern: "/apiaccounts/{AccessKey}", tag: "apiaccounts", auth: true, scope: auth.ScopeAPIAccountManage, summary: "Revoke a REST API account; its tokens stop working at once",
		resp: deletedJSON{}, h: a.deleteAPIAccount})

	r.add(&route{method: "GET", pattern: "/events", tag: "events", auth: true, scope: auth.ScopeEventRead, summary: "Page the event log, newest first",
		params: []param{{name: "limit"}, {name: "offset"}, {name: "type", desc: "event type"}, {name: "path", desc: "exact path, or a folder ending in /"}},
		resp:   list[hostapi.Event]{}, h: a.listEvents})

	r.add(&route{method: "GET", pattern: "/healthz", tag: "ops", summary: "Liveness and store health", resp: healthJSON{}, h: a.healthz})
	r.add(&route{method: "GET", pattern: "/metrics", tag: "ops", summary: "Prometheus metrics", raw: "text/plain", h: a.serveMetrics})
	r.add(&route{method: "GET", pattern: "/openapi.json", tag: "ops", summary: "This OpenAPI 3 document", raw: "application/json", h: a.serveOpenAPI})
	if a.opt.Files != nil {
		a.fileRoutes()
	}
	if a.opt.Rules != nil {
		a.ruleRoutes()
		a.webhookRoutes()
	}
	a.consoleRoutes()
}

type authRequest struct {
	AssociationKey string
	AccessKey      string
	SecretKey      string
}

type authResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (a *API) handleAuth(c *call) error {
	addr := remoteAddr(c.ctx)
	if a.opt.Guard != nil {
		if banned, until := a.opt.Guard.Banned(addr); banned {
			c.ctx.Response.Header.Set("Retry-After", strconv.Itoa(int(time.Until(until).Seconds())+1))
			return errorf(fasthttp.StatusTooManyRequests, "too many failed logins from %s: retry after %s", addr, until.UTC().Format(time.RFC3339))
		}
	}
	var req authRequest
	if err := decodeJSON(c.ctx, a.opt.MaxJSONBody, &req); err != nil {
		return err
	}
	if req.AssociationKey == "" || req.AccessKey == "" || req.SecretKey == "" {
		return errorf(fasthttp.StatusBadRequest, "AssociationKey, AccessKey and SecretKey are required")
	}
	token, exp, err := a.opt.Accounts.Authenticate(c.cx, req.AssociationKey, req.AccessKey, req.SecretKey)
	if err != nil {
		if errors.Is(err, accounts.ErrUnauthorized) {
			if a.opt.Guard != nil {
				a.opt.Guard.Failed(addr, "http", req.AccessKey)
			}
			return errorf(fasthttp.StatusUnauthorized, "%s", strings.TrimPrefix(err.Error(), "unauthorized: "))
		}
		return err
	}
	writeJSON(c.ctx, fasthttp.StatusOK, authResponse{Token: token, ExpiresAt: exp})
	return nil
}

// ftpAccountJSON is an FTP account as the Management API shows it. Password appears
// only in the response that generated it.
type ftpAccountJSON struct {
	Id                 int64
	Username           string
	Password           string `json:",omitempty"`
	SSHPublicKeys      []string
	SSHKeyFingerprints []string
	AccessRights       string
	Chroot             string
	Description        string
	Enabled            bool
	AllowedIPs         []string
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

func toFTPJSON(a store.FTPAccount) ftpAccountJSON {
	fps := make([]string, len(a.SSHPublicKeys))
	for i, k := range a.SSHPublicKeys {
		fps[i] = accounts.KeyFingerprint(k)
	}
	return ftpAccountJSON{Id: a.ID, Username: a.Username, SSHPublicKeys: a.SSHPublicKeys, SSHKeyFingerprints: fps,
		AccessRights: a.AccessRights, Chroot: a.Chroot, Description: a.Description, Enabled: a.Enabled,
		AllowedIPs: a.AllowedIPs, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

type deletedJSON struct {
	Deleted bool `json:"deleted"`
}

func (c *call) id() (int64, error) {
	s := c.params["id"]
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, errorf(fasthttp.StatusBadRequest, "id %q: want a positive integer", s)
	}
	return id, nil
}

func (a *API) listFTPAccounts(c *call) error {
	limit, offset, err := page(c.ctx)
	if err != nil {
		return err
	}
	accts, total, err := a.opt.Store.FTPAccounts(c.cx, c.who.Tenant.ID, string(c.ctx.QueryArgs().Peek("search")), limit, offset)
	if err != nil {
		return err
	}
	out := list[ftpAccountJSON]{Data: make([]ftpAccountJSON, len(accts)), Limit: limit, Offset: offset, Total: total}
	for i, acct := range accts {
		out.Data[i] = toFTPJSON(acct)
	}
	writeJSON(c.ctx, fasthttp.StatusOK, out)
	return nil
}

func (a *API) createFTPAccount(c *call) error {
	var in accounts.FTPAccountInput
	if err := decodeJSON(c.ctx, a.opt.MaxJSONBody, &in); err != nil {
		return err
	}
	acct, generated, err := a.opt.Accounts.CreateFTPAccount(c.cx, c.who.Tenant, in)
	if err != nil {
		return err
	}
	out := toFTPJSON(acct)
	out.Password = generated
	writeJSON(c.ctx, fasthttp.StatusCreated, out)
	return nil
}

func (a *API) getFTPAccount(c *call) error {
	id, err := c.id()
	if err != nil {
		return err
	}
	acct, err := a.opt.Store.FTPAccount(c.cx, c.who.Tenant.ID, id)
	if err != nil {
		return err
	}
	writeJSON(c.ctx, fasthttp.StatusOK, toFTPJSON(acct))
	return nil
}

func (a *API) updateFTPAccount(c *call) error {
	id, err := c.id()
	if err != nil {
		return err
	}
	var in accounts.FTPAccountInput
	if err := decodeJSON(c.ctx, a.opt.MaxJSONBody, &in); err != nil {
		return err
	}
	acct, err := a.opt.Accounts.UpdateFTPAccount(c.cx, c.who.Tenant, id, in)
	if err != nil {
		return err
	}
	writeJSON(c.ctx, fasthttp.StatusOK, toFTPJSON(acct))
	return nil
}

func (a *API) deleteFTPAccount(c *call) error {
	id, err := c.id()
	if err != nil {
		return err
	}
	if err := a.opt.Store.DeleteFTPAccount(c.cx, c.who.Tenant.ID, id); err != nil {
		return err
	}
	writeJSON(c.ctx, fasthttp.StatusOK, deletedJSON{Deleted: true})
	return nil
}

func (a *API) rotatePassword(c *call) error {
	id, err := c.id()
	if err != nil {
		return err
	}
	acct, pw, err := a.opt.Accounts.RotatePassword(c.cx, c.who.Tenant, id)
	if err != nil {
		return err
	}
	out := toFTPJSON(acct)
	out.Password = pw
	writeJSON(c.ctx, fasthttp.StatusOK, out)
	return nil
}

type sshKeyRequest struct {
	PublicKey string
}

func (a *API) addSSHKey(c *call) error {
	id, err := c.id()
	if err != nil {
		return err
	}
	var req sshKeyRequest
	if err := decodeJSON(c.ctx, a.opt.MaxJSONBody, &req); err != nil {
		return err
	}
	acct, err := a.opt.Accounts.AddSSHKey(c.cx, c.who.Tenant, id, req.PublicKey)
	if err != nil {
		return err
	}
	writeJSON(c.ctx, fasthttp.StatusOK, toFTPJSON(acct))
	return nil
}

func (a *API) removeSSHKey(c *call) error {
	id, err := c.id()
	if err != nil {
		return err
	}
	fp := string(c.ctx.QueryArgs().Peek("fingerprint"))
	if fp == "" {
		return errorf(fasthttp.StatusBadRequest, "query parameter fingerprint is required (SHA256:...)")
	}
	acct, err := a.opt.Accounts.RemoveSSHKey(c.cx, c.who.Tenant, id, fp)
	if err != nil {
		return err
	}
	writeJSON(c.ctx, fasthttp.StatusOK, toFTPJSON(acct))
	return nil
}

// apiAccountRequest creates a REST API account. ExpiresAt (RFC 3339) or ExpiresIn
// (a duration such as "720h") sets an expiry.
type apiAccountRequest struct {
	Scopes      []string
	ExpiresAt   *time.Time
	ExpiresIn   string
	PathPrefix  string
	Description string
}

// apiAccountJSON is a REST API account; SecretKey and AssociationKey appear only in the
// response that created it.
type apiAccountJSON struct {
	AssociationKey string `json:",omitempty"`
	AccessKey      string
	SecretKey      string `json:",omitempty"`
	Scopes         []string
	PathPrefix     string
	Description    string
	ExpiresAt      *time.Time `json:",omitempty"`
	CreatedAt      time.Time
}

func toAPIJSON(a store.APIAccount) apiAccountJSON {
	out := apiAccountJSON{AccessKey: a.AccessKey, Scopes: a.Scopes, PathPrefix: a.PathPrefix, Description: a.Description, CreatedAt: a.CreatedAt}
	if !a.ExpiresAt.IsZero() {
		t := a.ExpiresAt
		out.ExpiresAt = &t
	}
	return out
}

func (a *API) listAPIAccounts(c *call) error {
	limit, offset, err := page(c.ctx)
	if err != nil {
		return err
	}
	accts, total, err := a.opt.Store.APIAccounts(c.cx, c.who.Tenant.ID, limit, offset)
	if err != nil {
		return err
	}
	out := list[apiAccountJSON]{Data: make([]apiAccountJSON, len(accts)), Limit: limit, Offset: offset, Total: total}
	for i, acct := range accts {
		out.Data[i] = toAPIJSON(acct)
	}
	writeJSON(c.ctx, fasthttp.StatusOK, out)
	return nil
}

func (a *API) createAPIAccount(c *call) error {
	var req apiAccountRequest
	if err := decodeJSON(c.ctx, a.opt.MaxJSONBody, &req); err != nil {
		return err
	}
	in := accounts.NewAPIAccount{Scopes: req.Scopes, PathPrefix: req.PathPrefix, Description: req.Description}
	switch {
	case req.ExpiresAt != nil && req.ExpiresIn != "":
		return errorf(fasthttp.StatusBadRequest, "give ExpiresAt or ExpiresIn, not both")
	case req.ExpiresAt != nil:
		in.ExpiresAt = *req.ExpiresAt
	case req.ExpiresIn != "":
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 {
			return errorf(fasthttp.StatusBadRequest, "ExpiresIn %q: want a positive duration such as \"720h\"", req.ExpiresIn)
		}
		in.ExpiresAt = time.Now().Add(d)
	}
	acct, secret, err := a.opt.Accounts.CreateAPIAccount(c.cx, c.who.Tenant.ID, &c.who.Account, in)
	if err != nil {
		return err
	}
	out := toAPIJSON(acct)
	out.SecretKey, out.AssociationKey = secret, c.who.Tenant.AssociationKey
	writeJSON(c.ctx, fasthttp.StatusCreated, out)
	return nil
}

func (a *API) deleteAPIAccount(c *call) error {
	if err := a.opt.Store.DeleteAPIAccount(c.cx, c.who.Tenant.ID, c.params["AccessKey"]); err != nil {
		return err
	}
	writeJSON(c.ctx, fasthttp.StatusOK, deletedJSON{Deleted: true})
	return nil
}

func (a *API) listEvents(c *call) error {
	limit, offset, err := page(c.ctx)
	if err != nil {
		return err
	}
	f := store.EventFilter{Limit: limit, Offset: offset, Type: string(c.ctx.QueryArgs().Peek("type")), Path: string(c.ctx.QueryArgs().Peek("path"))}
	if prefix := c.who.Account.PathPrefix; prefix != "/" && prefix != "" {
		// A confined key sees only the events under its folder.
		switch {
		case f.Path == "":
			f.Path = prefix + "/"
		case f.Path != prefix && !strings.HasPrefix(f.Path, prefix+"/"):
			return errorf(fasthttp.StatusForbidden, "path %q is outside this REST API account's %q", f.Path, prefix)
		}
	}
	if f.Type != "" && !validEventType(f.Type) {
		return errorf(fasthttp.StatusBadRequest, "type %q: want one of %s", f.Type, strings.Join(hostapi.EventTypes, ", "))
	}
	evs, total, err := a.opt.Store.Events(c.cx, c.who.Tenant.ID, f)
	if err != nil {
		return err
	}
	writeJSON(c.ctx, fasthttp.StatusOK, list[hostapi.Event]{Data: evs, Limit: limit, Offset: offset, Total: total})
	return nil
}

func validEventType(t string) bool {
	for _, e := range hostapi.EventTypes {
		if e == t {
			return true
		}
	}
	return false
}
