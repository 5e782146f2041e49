package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestDefaultIsTheRepositoryGatewayToml(t *testing.T) {
	repo, err := os.ReadFile("../../gateway.toml")
	if err != nil {
		t.Fatal(err)
	}
	if string(repo) != DefaultTOML {
		t.Fatal("gateway.toml and core/config/default.toml differ: the documented default must be the embedded one (copy one over the other)")
	}
	c := Default("/srv/fg")
	if c.HTTP.Listen != "127.0.0.1:8080" || c.HTTP.TokenTTL.D() != 15*time.Minute || c.FTP.TLS != "off" || c.DataPath() != "/srv/fg/data" {
		t.Fatalf("defaults = %+v", c)
	}
	if lo, hi, _ := c.FTP.PassiveRange(); lo != 50000 || hi != 50100 {
		t.Fatalf("passive range %d-%d", lo, hi)
	}
}

func TestPasswordCacheSetting(t *testing.T) {
	for text, want := range map[string]time.Duration{
		"":                                       5 * time.Minute, // absent: the default
		"[security]\npassword_cache = \"0s\"\n":  0,               // off, not "unset"
		"[security]\npassword_cache = \"90s\"\n": 90 * time.Second,
	} {
		c, err := Parse(text, "gateway.toml")
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if got := c.Security.PasswordCache.D(); got != want {
			t.Errorf("%q: password_cache = %v, want %v", text, got, want)
		}
	}
	if got := Default("/srv/fg").Security.PasswordCache.D(); got != 5*time.Minute {
		t.Errorf("gateway.toml: password_cache = %v, want 5m", got)
	}
}

func TestStrictDecoding(t *testing.T) {
	for text, want := range map[string]string{
		"[http]\nlisen = \"x\"\n":               "unknown key http.lisen",
		"bogus = 1\n":                           "unknown key bogus",
		"[http]\ntoken_ttl = \"soon\"\n":        "duration",
		"[http]\nrate_limit = \"many\"\n":       "rate_limit",
		"[http]\nmax_upload = \"10 parsecs\"\n": "size",
		"[http\n":                               "line ",
		"[ftp]\ntls = \"maybe\"\n":              "ftp.tls",
		"[ftp]\ntls_required = true\n":          "tls_required",
		"[http]\nlisten = \"8080\"\n":           "http.listen",
		"[store]\ndriver = \"mysql\"\n":         "store.driver",
		"[[storage]]\nplugin = \"local\"\n":     "name is required",
		"[[storage]]\nname = \"a\"\nplugin = \"local\"\n[[storage]]\nname = \"a\"\nplugin = \"local\"\n": "used twice",
		"[[storage]]\nname = \"a\"\nplugin = \"s3\"\nlisting = \"cached\"\n":                             "listing",
		"[[storage]]\nname = \"a\"\nplugin = \"x.wasm\"\ntimeout = \"-1s\"\n":                            "timeout = -1s: must not be negative",
		"[security]\npassword_cache = \"-1m\"\n":                                                         "password_cache = -1m0s: must not be negative",
	} {
		_, err := Parse(text, "gateway.toml")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one mentioning %q", text, err, want)
		}
	}
}

func TestPluginConfigIsFreeForm(t *testing.T) {
	c, err := Parse(`
[[storage]]
name = "default"
plugin = "s3"
config = { bucket = "b", anything = { nested = 1 } }
[[rules]]
name = "r"
plugin = "webhook"
events = ["file.uploaded"]
config = { url = "http://x" }
[http]
max_upload = "2GiB"
`, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Storage[0].Config["bucket"] != "b" || c.Rules[0].Config["url"] != "http://x" || c.HTTP.MaxUpload != 2<<30 {
		t.Fatalf("decoded %+v", c)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "512": 512, "10KiB": 10 << 10, "5 MB": 5e6, "2GiB": 2 << 30, "1TiB": 1 << 40} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "1.5GiB", "GiB", "12 furlongs"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}

func TestRuleValidation(t *testing.T) {
	rule := func(body string) string { return "[[rules]]\n" + body }
	for text, want := range map[string]string{
		rule("plugin = \"webhook\"\nevents = [\"file.uploaded\"]\n"):                                                                                "rules[0].name is required",
		rule("name = \"a\"\nevents = [\"file.uploaded\"]\n"):                                                                                        `rule "a": plugin: is required`,
		rule("name = \"a\"\nplugin = \"webhook\"\n"):                                                                                                `rule "a": events: a rule needs events, a schedule`,
		rule("name = \"a\"\nplugin = \"webhook\"\nevents = [\"file.uplaoded\"]\n"):                                                                  `rule "a": events: unknown event type "file.uplaoded"`,
		rule("name = \"a\"\nplugin = \"retention\"\nschedule = \"@every soon\"\n"):                                                                  `rule "a": schedule: schedule "@every soon"`,
		rule("name = \"a\"\nplugin = \"retention\"\nschedule = \"61 * * * *\"\n"):                                                                   `rule "a": schedule: schedule "61 * * * *": minute field`,
		rule("name = \"a\"\nplugin = \"mirror\"\nevents = [\"file.uploaded\"]\npaths = [\"in/**\"]\n"):                                              `rule "a": paths: glob "in/**": must start with /`,
		rule("name = \"a\"\nplugin = \"mirror\"\nevents = [\"file.uploaded\"]\nallow = [\"disk\"]\n"):                                               `rule "a": allow: "disk" is not a capability`,
		rule("name = \"a\"\nplugin = \"x\"\nevents = [\"file.uploaded\"]\nlimits = { retries = 3 }\n"):                                              "unknown key rules.limits.retries",
		rule("name = \"a\"\nplugin = \"x\"\nevents = [\"file.uploaded\"]\n") + rule("name = \"a\"\nplugin = \"x\"\nevents = [\"file.uploaded\"]\n"): `rule "a": name: used by two rules`,
	} {
		_, err := Parse(text, "gateway.toml")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want it to mention %q", text, err, want)
		}
	}
	c, err := Parse(rule("name = \"hook\"\nplugin = \"webhook\"\nevents = [\"file.uploaded\"]\npaths = [\"/in/**\"]\nallow = [\"http:example.com\"]\nconfig = { url = \"https://example.com/h\" }\nlimits = { max_attempts = 3, timeout = \"5s\" }\n"), "gateway.toml")
	if err != nil {
		t.Fatal(err)
	}
	if l := c.Rules[0].Limits.WithDefaults(); l.MaxAttempts != 3 || l.Timeout.D() != 5*time.Second || l.Concurrency != DefaultConcurrency {
		t.Fatalf("limits = %+v", l)
	}
}
