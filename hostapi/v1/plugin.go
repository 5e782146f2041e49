package hostapi

import (
	"context"
	"strings"
	"time"
)

// Kind is what a plugin does: one of KindStorage, KindAuth or KindRule.
type Kind string

// The plugin kinds.
const (
	KindStorage Kind = "storage" // a storage backend (the Storage interface)
	KindAuth    Kind = "auth"    // decides logins and operations (the Auth interface)
	KindRule    Kind = "rule"    // reacts to events and schedules (the Rule interface)
)

// Manifest is what a plugin says about itself. The host reads it once at load and
// refuses a plugin whose APIVersion it cannot serve (see Compatible).
type Manifest struct {
	Name       string // a short identifier, e.g. "route-invoices"
	Kind       Kind
	APIVersion string // the host API version the plugin was built for, e.g. "1.0"
	// Capabilities are the grants the plugin expects to need (see the Cap* helpers);
	// the operator still grants them with `allow` in gateway.toml.
	Capabilities []string
	// Config describes the keys of the plugin's `config` table; the host checks the
	// operator's table against it at load. Empty means "any table".
	Config []ConfigField
}

// ConfigType is the type of one config value.
type ConfigType string

// The config value types a ConfigField may declare.
const (
	ConfigString   ConfigType = "string"
	ConfigInt      ConfigType = "int"
	ConfigBool     ConfigType = "bool"
	ConfigDuration ConfigType = "duration" // a string time.ParseDuration accepts
	ConfigStrings  ConfigType = "strings"  // a list of strings
	ConfigTable    ConfigType = "table"    // a nested table, checked by the plugin
	// ConfigPath is a string naming a file or folder on the gateway's machine. The
	// host makes a relative one absolute, against the folder of gateway.toml, before
	// the plugin sees the table: a process plugin's working directory is not that
	// folder, and the operator writes paths as they write the builtin plugins' ones
	// (host API 1.2; an older host passes the string unchanged).
	ConfigPath ConfigType = "path"
)

// ConfigField describes one key of a plugin's config table.
type ConfigField struct {
	Name     string
	Type     ConfigType
	Required bool
	Doc      string // one line for the operator
}

// Compatible reports whether a host serving API version host can run a plugin built
// for version plugin: the major versions must match and the plugin's minor version
// must not be newer than the host's (additions within a major version are
// backwards compatible).
func Compatible(host, plugin string) bool {
	hMajor, hMinor, ok1 := splitVersion(host)
	pMajor, pMinor, ok2 := splitVersion(plugin)
	return ok1 && ok2 && hMajor == pMajor && pMinor <= hMinor
}

func splitVersion(v string) (major, minor int, ok bool) {
	a, b, found := strings.Cut(v, ".")
	if !found {
		return 0, 0, false
	}
	major, ok1 := atoi(a)
	minor, ok2 := atoi(b)
	return major, minor, ok1 && ok2
}

func atoi(s string) (int, bool) {
	if s == "" || len(s) > 6 {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// Plugin is what every plugin implements, whatever its kind.
type Plugin interface {
	// Manifest describes the plugin. It must not depend on config or host calls.
	Manifest() Manifest
}

// Rule is an automation rule: the rules engine calls OnEvent for each matching event
// and OnSchedule for each scheduled run. Delivery is at least once: a rule must be
// idempotent, and an error makes the engine retry later.
//
// Implementations must be safe for concurrent use (the builtin and process transports
// call them from many goroutines; a wasm instance is only ever called by one).
type Rule interface {
	Plugin
	// OnEvent handles one event from the event log.
	OnEvent(ctx context.Context, host Host, ev Event) error
	// OnSchedule handles one scheduled run.
	OnSchedule(ctx context.Context, host Host, run Run) error
}

// Run is one scheduled run of a rule.
type Run struct {
	Rule string    // the rule's name in gateway.toml
	Time time.Time // when the run was due
}

// Auth decides logins on every protocol and, optionally, single operations.
// Implementations must be safe for concurrent use.
type Auth interface {
	Plugin
	// Authenticate decides one login. VerdictAbstain leaves the decision to the
	// gateway's own accounts.
	Authenticate(ctx context.Context, host Host, login Login) (LoginResult, error)
	// Authorize decides one operation of an authenticated account. A plugin with no
	// opinion returns Decision{Allow: true}.
	Authorize(ctx context.Context, host Host, op Operation) (Decision, error)
}

// StoragePlugin is a storage backend served as a plugin: its manifest (kind storage),
// and OpenStorage, which builds the backend from the operator's `[[storage]] config`
// table. The host opens it once per plugin process or wasm instance, before the first
// storage call. The Storage it returns must be safe for concurrent use; it implements
// Chtimer and Sweeper when the backend supports them, and the host offers them then only.
type StoragePlugin interface {
	Plugin
	OpenStorage(ctx context.Context, config map[string]any) (Storage, error)
}

// Login is one login attempt.
type Login struct {
	Protocol   string // ftp, ftps, sftp, http
	Username   string
	Password   string // "" for key logins
	PublicKey  []byte // SSH wire-format public key for SFTP key logins, else nil
	RemoteAddr string // ip:port
}

// Verdict is an auth plugin's answer to a login.
type Verdict uint8

// The verdicts.
const (
	VerdictAbstain Verdict = iota // no opinion: the gateway's own accounts decide
	VerdictAllow                  // let the user in (with the overrides)
	VerdictDeny                   // refuse, whatever the gateway's accounts say
)

// LoginResult is an auth plugin's answer to a login.
type LoginResult struct {
	Verdict Verdict
	Reason  string // why, for the log; never shown to the client
	// Overrides for an allowed login; "" keeps the account's own value.
	Chroot       string // the user's root folder
	AccessRights string // "R", "W" or "RW"
}

// Operation is one file operation an account is about to perform.
type Operation struct {
	Protocol string
	Account  string
	Action   string // upload, download, delete, rename, mkdir, list
	Path     string // clean and absolute
	To       string // the target path of a rename
	Size     int64  // the announced size of an upload, -1 if unknown
}

// Decision allows or refuses one operation.
type Decision struct {
	Allow  bool
	Reason string // why it was refused, shown to the client, e.g. "uploads of *.exe refused"
}

// Operation actions.
const (
	ActionUpload   = "upload"
	ActionDownload = "download"
	ActionDelete   = "delete"
	ActionRename   = "rename"
	ActionMkdir    = "mkdir"
	ActionList     = "list"
)
