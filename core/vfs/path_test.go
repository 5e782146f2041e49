package vfs_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/filegate/filegate/core/vfs"
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/memory"
)

func TestCleanPath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{".", "/"},
		{"a.jpg", "/a.jpg"},
		{"/a//b/./c/", "/a/b/c"},
		{"///", "/"},
		{"...", "/..."},
		{"a..b/..c/d..", "/a..b/..c/d.."},
		{"100%", "/100%"},
		{"50%25 off", "/50%25 off"},
		{"café/naïve.txt", "/café/naïve.txt"},
	} {
		got, err := vfs.CleanPath(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("CleanPath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{
		"..",
		"/..",
		"../etc/passwd",
		"a/../../b",
		"a/b/..",
		"/a/../b",
		`\..\`,
		`a\b`,
		"%2e%2e",
		"%2E%2E/secret",
		"a/%2e%2e/%2e%2e/b",
		"%2F..",
		"a%2F..%2F..%2Fb",
		"%252e%252e",
		"%25252e%25252e/x",
		"%5c..%5c",
		"a\x00b",
		"a%00b",
		"a\nb",
		"a\x7fb",
		"a\u0085b",
		"\xff\xfe",
		strings.Repeat("a", vfs.MaxPathLen+1),
	} {
		if got, err := vfs.CleanPath(in); !errors.Is(err, hostapi.ErrInvalid) {
			t.Errorf("CleanPath(%q) = %q, %v; want ErrInvalid", in, got, err)
		}
	}
}

func TestResolve(t *testing.T) {
	fs := vfs.New(memory.New(), nil, vfs.Session{TenantRoot: "/tenants/7", Chroot: "/uploads"})
	for _, tc := range []struct{ in, backend, tenant string }{
		{"", "/tenants/7/uploads", "/uploads"},
		{"/", "/tenants/7/uploads", "/uploads"},
		{"a.jpg", "/tenants/7/uploads/a.jpg", "/uploads/a.jpg"},
		{"/x//y/", "/tenants/7/uploads/x/y", "/uploads/x/y"},
	} {
		b, tp, err := fs.Resolve(tc.in)
		if err != nil || b != tc.backend || tp != tc.tenant {
			t.Errorf("Resolve(%q) = %q, %q, %v; want %q, %q", tc.in, b, tp, err, tc.backend, tc.tenant)
		}
	}
	for _, in := range []string{"../other", "/../../tenants/8", "%2e%2e/%2e%2e/etc"} {
		if _, _, err := fs.Resolve(in); err == nil {
			t.Errorf("Resolve(%q) succeeded", in)
		}
	}
	bad := vfs.New(memory.New(), nil, vfs.Session{TenantRoot: "/t/../x", Chroot: "/"})
	if _, _, err := bad.Resolve("a"); !errors.Is(err, hostapi.ErrInvalid) {
		t.Errorf("Resolve with a bad TenantRoot: %v, want ErrInvalid", err)
	}
}

// checkConfined fails unless p is clean, absolute, without "..", and within root.
func checkConfined(t *testing.T, in, p, root string) {
	t.Helper()
	if !strings.HasPrefix(p, "/") || strings.Contains(p, "//") || (p != "/" && strings.HasSuffix(p, "/")) {
		t.Fatalf("%q gave unclean %q", in, p)
	}
	for elem := range strings.SplitSeq(p, "/") {
		if elem == ".." || elem == "." {
			t.Fatalf("%q gave %q with a %q element", in, p, elem)
		}
	}
	if p != root && root != "/" && !strings.HasPrefix(p, root+"/") {
		t.Fatalf("%q gave %q outside %q", in, p, root)
	}
}

func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"", "/", "a/b", "..", "a/../b", "%2e%2e", "%2F..", `\..\`, "a\x00", "//a/./b/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, err := vfs.CleanPath(in)
		if err != nil {
			return
		}
		checkConfined(t, in, p, "/")
		if strings.ContainsAny(p, "\\\x00") {
			t.Fatalf("%q gave %q with a backslash or NUL", in, p)
		}
		if again, err := vfs.CleanPath(p); err != nil || again != p {
			t.Fatalf("CleanPath(%q) = %q, %v; not idempotent", p, again, err)
		}
	})
}

func FuzzResolve(f *testing.F) {
	for _, s := range []string{"", "a", "../b", "/../../x", "%2e%2e/%2e%2e", "a/%2F../..", "x/./y//z"} {
		f.Add(s)
	}
	fs := vfs.New(memory.New(), nil, vfs.Session{TenantRoot: "/tenants/7", Chroot: "/uploads"})
	f.Fuzz(func(t *testing.T, in string) {
		b, tp, err := fs.Resolve(in)
		if err != nil {
			return
		}
		checkConfined(t, in, b, "/tenants/7/uploads")
		checkConfined(t, in, tp, "/uploads")
		if b != "/tenants/7"+tp {
			t.Fatalf("Resolve(%q) = %q, %q: backend path is not the tenant root joined with the tenant path", in, b, tp)
		}
	})
}
