package auth

import (
	"fmt"
	"slices"
	"strings"
)

// Scopes, as pinned by DESIGN.md.
const (
	ScopeFileCreate       = "file.create"
	ScopeFileDelete       = "file.delete"
	ScopeFileRead         = "file.read"
	ScopeFileList         = "file.list"
	ScopeFileRename       = "file.rename"
	ScopeFTPAccountCreate = "ftpaccount.create"
	ScopeFTPAccountDelete = "ftpaccount.delete"
	ScopeFTPAccountGet    = "ftpaccount.get"
	ScopeFTPAccountList   = "ftpaccount.list"
	ScopeFTPAccountUpdate = "ftpaccount.update"
	ScopeAPIAccountManage = "apiaccount.manage"
	ScopeWebhookRead      = "webhook.read"
	ScopeWebhookWrite     = "webhook.write"
	ScopeEventRead        = "event.read"
)

// AllScopes lists every scope in a stable order.
var AllScopes = []string{
	ScopeFileCreate, ScopeFileDelete, ScopeFileRead, ScopeFileList, ScopeFileRename,
	ScopeFTPAccountCreate, ScopeFTPAccountDelete, ScopeFTPAccountGet, ScopeFTPAccountList, ScopeFTPAccountUpdate,
	ScopeAPIAccountManage, ScopeWebhookRead, ScopeWebhookWrite, ScopeEventRead,
}

// ParseScopes validates a list of scopes (commas or spaces between them), dropping
// duplicates; an unknown scope is an error naming it.
func ParseScopes(in []string) ([]string, error) {
	var out []string
	for _, item := range in {
		for _, s := range strings.FieldsFunc(item, func(r rune) bool { return r == ',' || r == ' ' }) {
			if !slices.Contains(AllScopes, s) {
				return nil, fmt.Errorf("unknown scope %q (known: %s)", s, strings.Join(AllScopes, " "))
			}
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("at least one scope is required (known: %s)", strings.Join(AllScopes, " "))
	}
	slices.Sort(out)
	return out, nil
}

// Missing returns the first scope of want that have lacks, or "".
func Missing(have, want []string) string {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return w
		}
	}
	return ""
}
