// Package uploadpolicy is an example auth plugin: it allows uploads only of listed
// file extensions and up to a maximum size, with limits per account. Logins are left
// to the gateway's own accounts. It is linked into the gateway as the builtin
// "uploadpolicy", and configured as:
//
//	[[auth]]
//	name = "uploads"
//	plugin = "uploadpolicy"  # or ".ci/cache/plugins/uploadpolicy.wasm"
//	config = { extensions = [".pdf", ".csv"], max_size = 10485760, accounts = { camera = { extensions = [".jpg"], max_size = 20971520 } } }
package uploadpolicy

import (
	"context"
	"fmt"
	"path"
	"strings"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// Policy is the auth plugin.
type Policy struct{}

// Limit is the upload policy of one account, or the default one.
type Limit struct {
	Extensions []string `json:"extensions"` // lower case, with the dot; empty allows any
	MaxSize    int64    `json:"max_size"`   // bytes; 0 is no limit
}

// Config is the plugin's config table.
type Config struct {
	Limit
	Accounts map[string]Limit `json:"accounts"` // replaces the default for these accounts
}

// Manifest implements hostapi.Plugin.
func (Policy) Manifest() hostapi.Manifest {
	return hostapi.Manifest{
		Name: "uploadpolicy",
		Kind: hostapi.KindAuth,
		Config: []hostapi.ConfigField{
			{Name: "extensions", Type: hostapi.ConfigStrings, Doc: `allowed extensions, e.g. [".pdf"]; empty allows any`},
			{Name: "max_size", Type: hostapi.ConfigInt, Doc: "largest upload in bytes; 0 is no limit"},
			{Name: "accounts", Type: hostapi.ConfigTable, Doc: "per-account {extensions, max_size}"},
		},
	}
}

// Authenticate abstains: the gateway's accounts decide logins.
func (Policy) Authenticate(context.Context, hostapi.Host, hostapi.Login) (hostapi.LoginResult, error) {
	return hostapi.LoginResult{Verdict: hostapi.VerdictAbstain}, nil
}

// Authorize refuses uploads with another extension or over the size limit.
func (Policy) Authorize(ctx context.Context, h hostapi.Host, op hostapi.Operation) (hostapi.Decision, error) {
	if op.Action != hostapi.ActionUpload {
		return hostapi.Decision{Allow: true}, nil
	}
	var cfg Config
	if err := h.Config(ctx, &cfg); err != nil {
		return hostapi.Decision{}, err
	}
	limit := cfg.Limit
	if l, ok := cfg.Accounts[op.Account]; ok {
		limit = l
	}
	ext := strings.ToLower(path.Ext(op.Path))
	if len(limit.Extensions) > 0 && !contains(limit.Extensions, ext) {
		return hostapi.Decision{Reason: fmt.Sprintf("uploads of *%s refused (allowed: %s)", ext, strings.Join(limit.Extensions, ", "))}, nil
	}
	if limit.MaxSize > 0 && op.Size > limit.MaxSize {
		return hostapi.Decision{Reason: fmt.Sprintf("upload of %d bytes refused (at most %d)", op.Size, limit.MaxSize)}, nil
	}
	return hostapi.Decision{Allow: true}, nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if strings.EqualFold(e, s) {
			return true
		}
	}
	return false
}
