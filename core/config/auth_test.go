package config

import (
	"strings"
	"testing"
	"time"
)

func TestAuthEntries(t *testing.T) {
	c, err := Parse(`[[auth]]
name = "uploads"
plugin = "uploadpolicy"
config = { extensions = [".pdf"], nested = { free = "form" } }

[[auth]]
name = "ldap"
plugin = "ldap.wasm"
allow = ["log", "http:ldap.example.com"]
on_error = "allow"
timeout = "2s"
`, "gateway.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Auth) != 2 {
		t.Fatalf("auth = %+v", c.Auth)
	}
	if a := c.Auth[0]; a.OnError != OnErrorDeny || a.Timeout.D() != DefaultAuthTimeout || a.Config["extensions"] == nil {
		t.Errorf("defaults not applied: %+v", a)
	}
	if a := c.Auth[1]; a.OnError != OnErrorAllow || a.Timeout.D() != 2*time.Second || len(a.Allow) != 2 {
		t.Errorf("auth[1] = %+v", a)
	}
}

func TestAuthEntriesAreStrict(t *testing.T) {
	for text, want := range map[string]string{
		"[[auth]]\nplugin = \"x\"\n":                                                       "auth[0].name is required",
		"[[auth]]\nname = \"a\"\n":                                                         `auth "a": plugin: is required`,
		"[[auth]]\nname = \"a\"\nplugin = \"x\"\non_error = \"maybe\"\n":                   `auth "a": on_error: "maybe"`,
		"[[auth]]\nname = \"a\"\nplugin = \"x\"\nallow = [\"disk\"]\n":                     `auth "a": allow: "disk" is not a capability`,
		"[[auth]]\nname = \"a\"\nplugin = \"x\"\ntimeout = \"-1s\"\n":                      `auth "a": timeout: must not be negative`,
		"[[auth]]\nname = \"a b\"\nplugin = \"x\"\n":                                       `auth "a b": name:`,
		"[[auth]]\nname = \"a\"\nplugin = \"x\"\n[[auth]]\nname = \"a\"\nplugin = \"y\"\n": "used by two",
		"[[auth]]\nname = \"a\"\nplugin = \"x\"\nonerror = \"deny\"\n":                     "unknown key auth.onerror",
		"[[auth]]\nname = \"a\"\nplugin = \"x\"\ntimeout = \"soon\"\n":                     "duration",
	} {
		_, err := Parse(text, "gateway.toml")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one mentioning %q", text, err, want)
		}
	}
}
