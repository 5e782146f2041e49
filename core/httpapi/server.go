// Package httpapi is the REST front end: the Management API and the Storage API on
// fasthttp, with bearer-token auth, scopes, rate limits, metrics and an OpenAPI
// document generated from the same route table that serves requests.
package httpapi

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/filegate/filegate/core/accounts"
	"github.com/filegate/filegate/core/store"
	"github.com/valyala/fasthttp"
)

// Options configures an API.
type Options struct {
	Accounts    *accounts.Service
	Store       *store.Store
	Log         *slog.Logger
	RateLimit   int           // requests per RateWindow per REST API account; 0 = unlimited
	RateWindow  time.Duration // default one minute
	MaxJSONBody int64         // default 1 MiB
	MaxUpload   int64         // bytes per uploaded file; 0 = unlimited
	SpoolDir    string        // where file parts sent before the upload's meta field wait; default os.TempDir()
	// Guard, when set, counts failed authentications per source address and refuses
	// banned addresses.
	Guard Guard
	// Files serves the Storage API; nil leaves it out.
	Files Files
	// Fallback, when set, answers GET and HEAD requests that match no route and whose
	// first path segment is not one of the API's (the web console at /). Other
	// unmatched requests get the JSON 404.
	Fallback fasthttp.RequestHandler
	// Status, when set, describes the running node for GET /overview.
	Status func(ctx context.Context) Status
	// Rules, when set, serves /rules and /webhooks.
	Rules RuleEngine
}

// Guard is the brute-force protection shared by every protocol.
type Guard interface {
	// Banned reports whether addr is refused, and until when.
	Banned(addr netip.Addr) (bool, time.Time)
	// Failed records a failed login from addr.
	Failed(addr netip.Addr, protocol, account string)
}

// API is the REST API. Handler serves it.
type API struct {
	opt     Options
	log     *slog.Logger
	router  router
	limiter *limiter
	metrics *metrics
	openapi []byte
	// base is the context of every request; Close cancels it so that long streams stop.
	base   context.Context
	cancel context.CancelFunc
}

// Close cancels the requests in flight.
func (a *API) Close() { a.cancel() }

// New builds the API and its route table.
func New(opt Options) *API {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.RateWindow <= 0 {
		opt.RateWindow = time.Minute
	}
	if opt.SpoolDir == "" {
		opt.SpoolDir = os.TempDir()
	}
	if opt.MaxJSONBody <= 0 {
		opt.MaxJSONBody = 1 << 20
	}
	a := &API{opt: opt, log: opt.Log, metrics: newMetrics()}
	a.base, a.cancel = context.WithCancel(context.Background())
	if opt.RateLimit > 0 {
		a.limiter = newLimiter(opt.RateLimit, opt.RateWindow)
	}
	a.routes()
	a.openapi = a.buildOpenAPI()
	return a
}

// call is one request in flight: what handlers see.
type call struct {
	ctx    *fasthttp.RequestCtx
	cx     context.Context // for store and storage calls; ends when the API shuts down
	api    *API
	who    accounts.Principal
	params map[string]string
}

// Handler serves every request.
func (a *API) Handler(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	method, path := string(ctx.Method()), string(ctx.Path())
	rt, params, pathFound := a.router.match(method, path)
	label := "unmatched"
	switch {
	case rt != nil:
		label = rt.method + " " + rt.pattern
		a.serve(ctx, rt, params)
	case pathFound:
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "method "+method+" is not allowed on "+path)
	case a.opt.Fallback != nil && (method == "GET" || method == "HEAD") && !a.router.isAPIPath(path):
		label = "fallback"
		a.opt.Fallback(ctx)
	default:
		writeError(ctx, fasthttp.StatusNotFound, "no such endpoint: "+method+" "+path)
	}
	a.metrics.observe(label, ctx.Response.StatusCode(), time.Since(start))
}

func (a *API) serve(ctx *fasthttp.RequestCtx, rt *route, params map[string]string) {
	c := &call{ctx: ctx, cx: a.base, api: a, params: params}
	if rt.auth {
		if err := a.authenticate(c, rt); err != nil {
			a.fail(ctx, err)
			return
		}
	}
	if err := rt.h(c); err != nil {
		a.fail(ctx, err)
	}
}

func (a *API) fail(ctx *fasthttp.RequestCtx, err error) {
	status, msg := statusOf(err)
	if status >= 500 {
		a.log.Error("request failed", "method", string(ctx.Method()), "path", string(ctx.Path()), "err", err)
	}
	// A streamed response that already started cannot change its status.
	if ctx.Response.IsBodyStream() {
		return
	}
	writeError(ctx, status, msg)
}

// authenticate checks the bearer token, the route's scope and the rate limit.
func (a *API) authenticate(c *call, rt *route) error {
	h := c.ctx.Request.Header.Peek("Authorization")
	token, ok := bytes.CutPrefix(h, []byte("Bearer "))
	if !ok || len(token) == 0 {
		return errorf(fasthttp.StatusUnauthorized, "missing bearer token: POST /apiaccess/auth, then send Authorization: Bearer <token>")
	}
	who, err := a.opt.Accounts.Verify(c.cx, string(token))
	if err != nil {
		return err
	}
	c.who = who
	if a.limiter != nil {
		ok, remaining, reset := a.limiter.allow(who.Account.AccessKey, time.Now())
		hdr := &c.ctx.Response.Header
		hdr.Set("X-RateLimit-Limit", strconv.Itoa(a.opt.RateLimit))
		hdr.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
		if !ok {
			secs := int(time.Until(reset).Seconds()) + 1
			hdr.Set("Retry-After", strconv.Itoa(secs))
			return errorf(fasthttp.StatusTooManyRequests, "rate limit of %d requests per %s exceeded: retry in %d s", a.opt.RateLimit, a.opt.RateWindow, secs)
		}
	}
	if rt.scope != "" && !hasScope(who.Account.Scopes, rt.scope) {
		return errorf(fasthttp.StatusForbidden, "missing required scope: %s", rt.scope)
	}
	return nil
}

func hasScope(have []string, want string) bool {
	for _, s := range have {
		if s == want {
			return true
		}
	}
	return false
}

// remoteAddr is the client's address.
func remoteAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	ap, err := netip.ParseAddrPort(ctx.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// Server returns a fasthttp server for the API configured for streaming uploads.
func (a *API) Server() *fasthttp.Server {
	return &fasthttp.Server{
		Handler:                       a.Handler,
		Name:                          "filegate",
		StreamRequestBody:             true,
		DisablePreParseMultipartForm:  true,
		ReadBufferSize:                16 << 10,
		DisableHeaderNamesNormalizing: true,
		ReadTimeout:                   0,
		IdleTimeout:                   2 * time.Minute,
		Logger:                        fasthttpLogger{a.log},
		ErrorHandler: func(ctx *fasthttp.RequestCtx, err error) {
			writeError(ctx, fasthttp.StatusBadRequest, "bad request: "+strings.TrimSpace(err.Error()))
		},
	}
}

type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Debug("fasthttp", "msg", strings.TrimSpace(sprintf(format, args...)))
}

// Routes lists every route as "METHOD /pattern", in registration order.
func (a *API) Routes() []string {
	out := make([]string, len(a.router.routes))
	for i, rt := range a.router.routes {
		out[i] = rt.method + " " + rt.pattern
	}
	return out
}
