package vfs

import (
	"fmt"
	"net/url"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// MaxPathLen is the longest client path CleanPath accepts, in bytes.
const MaxPathLen = 4096

// maxDecodeRounds bounds how many layers of percent-encoding CleanPath looks through.
const maxDecodeRounds = 4

// CleanPath checks a path given by a client and returns it clean and absolute: "" and
// "/" are the root, "//" and "." elements collapse, a trailing slash goes. It refuses,
// with an error wrapping hostapi.ErrInvalid, a path with a ".." element, a backslash,
// a NUL or other control character, or invalid UTF-8 — whether written plainly or
// percent-encoded (up to four layers deep, "%2e%2e", "%252e%252e", "%2F.."). The
// returned path is the client's path as given, not decoded.
func CleanPath(p string) (string, error) {
	if len(p) > MaxPathLen {
		return "", fmt.Errorf("vfs: path of %d bytes is longer than %d: %w", len(p), MaxPathLen, hostapi.ErrInvalid)
	}
	for s, round := p, 0; ; round++ {
		if reason := unsafeReason(s); reason != "" {
			return "", fmt.Errorf("vfs: path %q: %s: %w", p, reason, hostapi.ErrInvalid)
		}
		if round == maxDecodeRounds {
			break
		}
		d, err := url.PathUnescape(s)
		if err != nil || d == s {
			break // not (or no longer) percent-encoded: taken literally
		}
		s = d
	}
	return path.Clean("/" + p), nil
}

// unsafeReason says why p cannot be a client path, or "" when it can.
func unsafeReason(p string) string {
	if !utf8.ValidString(p) {
		return "invalid UTF-8"
	}
	for _, r := range p {
		switch {
		case r == '\\':
			return "backslash"
		case unicode.IsControl(r):
			return "control character"
		}
	}
	for elem := range strings.SplitSeq(p, "/") {
		if elem == ".." {
			return `".." element`
		}
	}
	return ""
}

// isWithin reports whether the clean absolute path name is dir or lies below it.
func isWithin(name, dir string) bool {
	return name == dir || dir == "/" || strings.HasPrefix(name, dir+"/")
}
