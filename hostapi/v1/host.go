package hostapi

import (
	"context"
	"strings"
	"time"
)

// Host is what a plugin may ask of the gateway. Every call except Now and Config needs
// a grant the operator gives in gateway.toml (`allow = [...]`); a call without it
// fails with an error matching ErrNotGranted that names the missing grant.
//
// Storage calls name a backend (a `[[storage]]` name, "default" for the primary one)
// and take clean absolute paths; they need the grant CapStorage(backend).
type Host interface {
	// Log writes one line to the gateway's log, attributed to the plugin. Needs CapLog.
	Log(ctx context.Context, level LogLevel, msg string) error
	// Config decodes the plugin's `config` table into v, as encoding/json would
	// decode its JSON form.
	Config(ctx context.Context, v any) error
	// Now is the gateway's clock (tests may fake it).
	Now(ctx context.Context) time.Time

	// Stat describes one file or folder.
	Stat(ctx context.Context, backend, path string) (FileInfo, error)
	// List returns one page of a folder, sorted by name.
	List(ctx context.Context, backend, dir string, opts ListOptions) (ListPage, error)
	// ReadFile returns at most limit bytes (at most MaxChunk) of a file from offset;
	// fewer than asked, or none, at the end of the file.
	ReadFile(ctx context.Context, backend, path string, offset, limit int64) ([]byte, error)
	// WriteFile replaces a file with data (at most MaxChunk bytes), atomically,
	// creating missing parent folders. Use Copy for large files.
	WriteFile(ctx context.Context, backend, path string, data []byte) error
	// Copy streams a file, within a backend or across two, replacing the target and
	// creating its missing parent folders. Needs the grants of both backends.
	Copy(ctx context.Context, srcBackend, src, dstBackend, dst string) error
	// Move renames a file or folder, creating the target's missing parent folders.
	Move(ctx context.Context, backend, from, to string) error
	// Delete removes a file or an empty folder.
	Delete(ctx context.Context, backend, path string) error
	// Mkdir creates a folder and its missing parents; an existing folder is no error.
	Mkdir(ctx context.Context, backend, path string) error

	// HTTP makes one outbound request. Needs CapHTTP(host) for the URL's host. The
	// response body is cut at MaxChunk bytes (Truncated says so).
	HTTP(ctx context.Context, req HTTPRequest) (HTTPResponse, error)

	// KVGet reads the plugin's own key-value store. Needs CapKV.
	KVGet(ctx context.Context, key string) (value []byte, found bool, err error)
	// KVPut writes a key (value at most MaxKVValue bytes). Needs CapKV.
	KVPut(ctx context.Context, key string, value []byte) error
	// KVDelete removes a key; a missing key is no error. Needs CapKV.
	KVDelete(ctx context.Context, key string) error
}

// Size limits of host calls.
const (
	MaxChunk   = 4 << 20 // bytes per ReadFile, WriteFile and HTTP body
	MaxKVValue = 64 << 10
	MaxKVKey   = 256
)

// LogLevel is the level of a Host.Log line; the values match log/slog's.
type LogLevel int32

// The log levels.
const (
	LevelDebug LogLevel = -4
	LevelInfo  LogLevel = 0
	LevelWarn  LogLevel = 4
	LevelError LogLevel = 8
)

// HTTPRequest is an outbound HTTP request made through Host.HTTP.
type HTTPRequest struct {
	Method string
	URL    string
	Header []Header // in order; a name may repeat
	Body   []byte
}

// HTTPResponse is the answer to an HTTPRequest.
type HTTPResponse struct {
	Status    int
	Header    []Header
	Body      []byte
	Truncated bool // the body was longer than MaxChunk
}

// Header is one HTTP header line.
type Header struct{ Name, Value string }

// Capability strings for `allow` in gateway.toml.
const (
	CapLog = "log" // Host.Log
	CapKV  = "kv"  // Host.KVGet, KVPut, KVDelete
)

// CapStorage is the grant for the storage calls on the backend name.
func CapStorage(backend string) string { return "storage:" + backend }

// CapHTTP is the grant for outbound HTTP to host (a host name, "host:port", or
// "*.example.com" for every subdomain).
func CapHTTP(host string) string { return "http:" + host }

// ParseCapability splits a capability string into its kind (log, kv, storage, http)
// and argument. ok is false for anything that is not a capability.
func ParseCapability(c string) (kind, arg string, ok bool) {
	kind, arg, hasArg := strings.Cut(c, ":")
	switch kind {
	case CapLog, CapKV:
		return kind, "", !hasArg
	case "storage", "http":
		return kind, arg, hasArg && arg != "" && !strings.ContainsAny(arg, " /")
	}
	return "", "", false
}
