package guard

import (
	"net/netip"
	"testing"
	"time"
)

func TestBanAfterThresholdWithinWindow(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := New(3, time.Minute, 10*time.Minute)
	g.SetClock(func() time.Time { return now })
	var banned []netip.Addr
	g.OnBan = func(a netip.Addr, _ time.Time, _, _ string) { banned = append(banned, a) }
	bad, good := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")

	g.Failed(bad, "ftp", "x")
	g.Failed(bad, "sftp", "x")
	if b, _ := g.Banned(bad); b {
		t.Fatal("banned after 2 of 3 failures")
	}
	g.Failed(bad, "http", "x")
	if b, until := g.Banned(bad); !b || !until.Equal(now.Add(10*time.Minute)) {
		t.Fatalf("not banned after 3 failures: %v %v", b, until)
	}
	if b, _ := g.Banned(netip.MustParseAddr("::ffff:192.0.2.1")); !b {
		t.Fatal("IPv4-mapped form of a banned address is not banned")
	}
	if b, _ := g.Banned(good); b {
		t.Fatal("another address is banned")
	}
	if len(banned) != 1 || banned[0] != bad {
		t.Fatalf("OnBan calls = %v", banned)
	}
	now = now.Add(10 * time.Minute)
	if b, _ := g.Banned(bad); b {
		t.Fatal("still banned after the ban time")
	}
}

func TestFailuresOutsideWindowDoNotCount(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := New(3, time.Minute, time.Hour)
	g.SetClock(func() time.Time { return now })
	a := netip.MustParseAddr("2001:db8::1")
	for i := 0; i < 5; i++ {
		g.Failed(a, "ftp", "")
		now = now.Add(31 * time.Second) // never three within a minute
	}
	if b, _ := g.Banned(a); b {
		t.Fatal("banned although failures were spread out")
	}
	g.Failed(a, "ftp", "")
	g.Succeeded(a)
	g.Failed(a, "ftp", "")
	if b, _ := g.Banned(a); b {
		t.Fatal("a successful login did not reset the count")
	}
}

func TestDisabled(t *testing.T) {
	g := New(0, time.Minute, time.Hour)
	a := netip.MustParseAddr("192.0.2.9")
	for i := 0; i < 100; i++ {
		g.Failed(a, "ftp", "")
	}
	if b, _ := g.Banned(a); b {
		t.Fatal("threshold 0 must disable banning")
	}
}
