// Package console is Filegate's web console: a small front end (plain HTML, CSS and
// JavaScript modules, no build step) embedded in the binary and served at / on the REST
// API's port. It works entirely through the public REST API; the only server-side
// support it has is the one-time login link (CreateLink, redeemed at
// POST /apiaccess/console-link).
package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"path"
	"strings"
	"time"

	"github.com/filegate/filegate/core/auth"
	"github.com/filegate/filegate/core/store"
	"github.com/filegate/filegate/core/vfs"
	"github.com/valyala/fasthttp"
)

//go:embed static
var static embed.FS

// securityHeaders go on every console response: scripts and styles only from this
// origin (no inline code, so an injected string cannot run), no framing, no referrer.
var securityHeaders = [][2]string{
	{"Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"},
	{"X-Content-Type-Options", "nosniff"},
	{"X-Frame-Options", "DENY"},
	{"Referrer-Policy", "no-referrer"},
}

type asset struct {
	body        []byte
	contentType string
	etag        string
}

// Handler serves the console: / is the single page, the other files by name. Anything
// else is a plain 404.
func Handler() fasthttp.RequestHandler {
	assets := map[string]asset{}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		assets[strings.TrimPrefix(p, "static")] = asset{body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("console: reading the embedded files: %v", err)) // cannot happen: they are compiled in
	}
	assets["/"] = assets["/index.html"]
	return func(ctx *fasthttp.RequestCtx) {
		for _, h := range securityHeaders {
			ctx.Response.Header.Set(h[0], h[1])
		}
		a, ok := assets[string(ctx.Path())]
		if !ok {
			ctx.SetStatusCode(fasthttp.StatusNotFound)
			ctx.SetContentType("text/plain; charset=utf-8")
			ctx.SetBodyString("not found: the web console is at /\n")
			return
		}
		// Revalidate every time: the files are small and change with the binary.
		ctx.Response.Header.Set("Cache-Control", "no-cache")
		ctx.Response.Header.Set("ETag", a.etag)
		if inm := ctx.Request.Header.Peek("If-None-Match"); len(inm) > 0 && bytes.Contains(inm, []byte(a.etag)) {
			ctx.SetStatusCode(fasthttp.StatusNotModified)
			return
		}
		ctx.SetContentType(a.contentType)
		ctx.SetBody(a.body)
	}
}

// LinkOptions describes a one-time login link.
type LinkOptions struct {
	Scopes     []string      // scopes of the session's REST API account; empty: every scope
	PathPrefix string        // folder the session is confined to; "": /
	Valid      time.Duration // how long the link can be redeemed; default 10 minutes
	Session    time.Duration // lifetime of the REST API account it creates; default 8 hours
}

// CreateLink stores a one-time login link for tenantID and returns its code (256
// random bits, base64url). The store keeps only the code's hash; redeeming it once,
// within o.Valid, creates a REST API account that lives o.Session.
func CreateLink(ctx context.Context, st *store.Store, tenantID int64, o LinkOptions) (string, error) {
	if o.Valid <= 0 {
		o.Valid = 10 * time.Minute
	}
	if o.Session <= 0 {
		o.Session = 8 * time.Hour
	}
	scopes := auth.AllScopes
	if len(o.Scopes) > 0 {
		var err error
		if scopes, err = auth.ParseScopes(o.Scopes); err != nil {
			return "", fmt.Errorf("console link: %w", err)
		}
	}
	prefix := "/"
	if o.PathPrefix != "" {
		var err error
		if prefix, err = vfs.CleanPath(o.PathPrefix); err != nil {
			return "", fmt.Errorf("console link: path prefix: %w", err)
		}
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("console link: %w", err)
	}
	code := base64.RawURLEncoding.EncodeToString(raw[:])
	err := st.CreateConsoleLink(ctx, store.ConsoleLink{
		CodeHash: auth.HashSecret(code), TenantID: tenantID, Scopes: scopes, PathPrefix: prefix,
		Session: o.Session, ExpiresAt: time.Now().Add(o.Valid),
	})
	if err != nil {
		return "", err
	}
	return code, nil
}

// LinkURL is the address a person opens to sign in with code: the code travels in the
// fragment, which browsers never send to a server or put in a Referer.
func LinkURL(base, code string) string {
	return strings.TrimRight(base, "/") + "/#link=" + code
}
