package httpapi

import (
	"errors"
	"strconv"
	"time"

	"github.com/filegate/filegate/core/accounts"
	"github.com/filegate/filegate/core/auth"
	"github.com/filegate/filegate/core/store"
	"github.com/valyala/fasthttp"
)

// Status describes the running node: what the web console's Overview shows.
type Status struct {
	Version   string          `json:"version"`
	Listeners []Listener      `json:"listeners"`
	Storage   []StorageStatus `json:"storage"`
	Bans      int             `json:"bans"` // addresses banned now for failed logins
}

// Listener is one protocol front end.
type Listener struct {
	Protocol string `json:"protocol"` // http, ftp, sftp
	Addr     string `json:"addr"`     // bound address, or "off"
	TLS      string `json:"tls"`      // http: "on"/"off"; ftp: "off", "explicit", "implicit"; sftp: "ssh"
}

// StorageStatus is one storage backend and whether it answers.
type StorageStatus struct {
	Name   string `json:"name"`
	Plugin string `json:"plugin"`
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
}

// overviewJSON is GET /overview. A count is present only when the caller holds the
// scope that would let it list what is counted.
type overviewJSON struct {
	Status
	Tenant            string `json:"tenant"`
	FTPAccounts       *int   `json:"ftp_accounts,omitempty"`        // ftpaccount.list
	APIAccounts       *int   `json:"api_accounts,omitempty"`        // apiaccount.manage
	EventsToday       *int   `json:"events_today,omitempty"`        // event.read; since 00:00 UTC
	FailedLoginsToday *int   `json:"failed_logins_today,omitempty"` // event.read
	UploadsToday      *int   `json:"uploads_today,omitempty"`       // event.read
}

// consoleLinkRequest redeems a one-time login link printed by `filegate console-link`.
type consoleLinkRequest struct {
	Code string
}

func (a *API) consoleRoutes() {
	r := &a.router
	r.add(&route{method: "GET", pattern: "/overview", tag: "ops", auth: true, summary: "What this node serves: listeners, storage backends and their health, bans, and the counts the caller's scopes allow",
		resp: overviewJSON{}, h: a.overview})
	r.add(&route{method: "POST", pattern: "/apiaccess/console-link", tag: "auth", summary: "Redeem a one-time login link code (filegate console-link) for a new short-lived REST API account; its SecretKey is shown once",
		body: consoleLinkRequest{}, resp: apiAccountJSON{}, status: fasthttp.StatusCreated, h: a.redeemConsoleLink})
}

func (a *API) overview(c *call) error {
	var out overviewJSON
	if a.opt.Status != nil {
		out.Status = a.opt.Status(c.cx)
	}
	out.Tenant = c.who.Tenant.Name
	has := func(s string) bool { return hasScope(c.who.Account.Scopes, s) }
	tid := c.who.Tenant.ID
	if has(auth.ScopeFTPAccountList) {
		_, n, err := a.opt.Store.FTPAccounts(c.cx, tid, "", 0, 0)
		if err != nil {
			return err
		}
		out.FTPAccounts = &n
	}
	if has(auth.ScopeAPIAccountManage) {
		_, n, err := a.opt.Store.APIAccounts(c.cx, tid, 0, 0)
		if err != nil {
			return err
		}
		out.APIAccounts = &n
	}
	if has(auth.ScopeEventRead) {
		y, m, d := time.Now().UTC().Date()
		counts, err := a.opt.Store.EventCounts(c.cx, tid, time.Date(y, m, d, 0, 0, 0, 0, time.UTC))
		if err != nil {
			return err
		}
		total := 0
		for _, n := range counts {
			total += n
		}
		failed, uploads := counts["login.failed"], counts["file.uploaded"]
		out.EventsToday, out.FailedLoginsToday, out.UploadsToday = &total, &failed, &uploads
	}
	writeJSON(c.ctx, fasthttp.StatusOK, out)
	return nil
}

func (a *API) redeemConsoleLink(c *call) error {
	addr := remoteAddr(c.ctx)
	if a.opt.Guard != nil {
		if banned, until := a.opt.Guard.Banned(addr); banned {
			c.ctx.Response.Header.Set("Retry-After", strconv.Itoa(int(time.Until(until).Seconds())+1))
			return errorf(fasthttp.StatusTooManyRequests, "too many failed logins from %s: retry after %s", addr, until.UTC().Format(time.RFC3339))
		}
	}
	var req consoleLinkRequest
	if err := decodeJSON(c.ctx, a.opt.MaxJSONBody, &req); err != nil {
		return err
	}
	if req.Code == "" {
		return errorf(fasthttp.StatusBadRequest, "Code is required")
	}
	link, err := a.opt.Store.RedeemConsoleLink(c.cx, auth.HashSecret(req.Code))
	if errors.Is(err, store.ErrNotFound) {
		if a.opt.Guard != nil {
			a.opt.Guard.Failed(addr, "http", "console-link")
		}
		return errorf(fasthttp.StatusUnauthorized, "this login link is unknown, expired or already used: run `filegate console-link` for a new one")
	}
	if err != nil {
		return err
	}
	t, err := a.opt.Store.Tenant(c.cx, link.TenantID)
	if err != nil {
		return err
	}
	acct, secret, err := a.opt.Accounts.CreateAPIAccount(c.cx, t.ID, nil, accounts.NewAPIAccount{
		Scopes: link.Scopes, PathPrefix: link.PathPrefix, ExpiresAt: time.Now().Add(link.Session),
		Description: "web console session from a login link (filegate console-link)",
	})
	if err != nil {
		return err
	}
	out := toAPIJSON(acct)
	out.SecretKey, out.AssociationKey = secret, t.AssociationKey
	writeJSON(c.ctx, fasthttp.StatusCreated, out)
	return nil
}
