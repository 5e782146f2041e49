package trigger

import (
	"strings"
	"testing"
	"time"
)

func TestGlob(t *testing.T) {
	cases := []struct {
		pattern, path string
		want          bool
	}{
		{"/invoices/**", "/invoices", true},
		{"/invoices/**", "/invoices/2026/a.pdf", true},
		{"/invoices/**", "/invoices2/a.pdf", false},
		{"/**", "/anything/at/all", true},
		{"/*.csv", "/a.csv", true},
		{"/*.csv", "/d/a.csv", false},
		{"/**/*.csv", "/d/e/a.csv", true},
		{"/**/*.csv", "/a.csv", true},
		{"/a/**/z", "/a/z", true},
		{"/a/**/z", "/a/b/c/z", true},
		{"/a/**/z", "/a/b/c/y", false},
		{"/cam?/*.jpg", "/cam1/x.jpg", true},
	}
	for _, c := range cases {
		g, err := ParseGlob(c.pattern)
		if err != nil {
			t.Fatalf("%s: %v", c.pattern, err)
		}
		if got := g.Match(c.path); got != c.want {
			t.Errorf("%s matches %s = %v, want %v", c.pattern, c.path, got, c.want)
		}
	}
	for _, bad := range []string{"invoices/**", "/a**/b", "/[a"} {
		if _, err := ParseGlob(bad); err == nil {
			t.Errorf("ParseGlob(%q) accepted a bad pattern", bad)
		}
	}
}

func TestSchedule(t *testing.T) {
	base := time.Date(2026, 3, 14, 10, 17, 30, 0, time.UTC) // a Saturday
	cases := []struct {
		expr string
		want string // the next three due times
	}{
		{"@every 1h", "2026-03-14T11:00:00Z 2026-03-14T12:00:00Z 2026-03-14T13:00:00Z"},
		{"@every 15m", "2026-03-14T10:30:00Z 2026-03-14T10:45:00Z 2026-03-14T11:00:00Z"},
		{"*/20 * * * *", "2026-03-14T10:20:00Z 2026-03-14T10:40:00Z 2026-03-14T11:00:00Z"},
		{"0 3 * * *", "2026-03-15T03:00:00Z 2026-03-16T03:00:00Z 2026-03-17T03:00:00Z"},
		{"30 8 * * 1-5", "2026-03-16T08:30:00Z 2026-03-17T08:30:00Z 2026-03-18T08:30:00Z"},
		{"0 0 * * 7", "2026-03-15T00:00:00Z 2026-03-22T00:00:00Z 2026-03-29T00:00:00Z"},
		{"0 12 1,15 * *", "2026-03-15T12:00:00Z 2026-04-01T12:00:00Z 2026-04-15T12:00:00Z"},
		{"0 0 1 * 1", "2026-03-16T00:00:00Z 2026-03-23T00:00:00Z 2026-03-30T00:00:00Z"}, // DOM or DOW
		{"@yearly", "2027-01-01T00:00:00Z 2028-01-01T00:00:00Z 2029-01-01T00:00:00Z"},
		{"0 0 29 2 *", "2028-02-29T00:00:00Z 2032-02-29T00:00:00Z 2036-02-29T00:00:00Z"},
		{"5-10/5 9 * * *", "2026-03-15T09:05:00Z 2026-03-15T09:10:00Z 2026-03-16T09:05:00Z"},
	}
	for _, c := range cases {
		s, err := ParseSchedule(c.expr, time.UTC)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		var got []string
		for tm := base; len(got) < 3; {
			tm = s.Next(tm)
			got = append(got, tm.Format(time.RFC3339))
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("%s: next = %s, want %s", c.expr, g, c.want)
		}
	}
	for _, bad := range []string{"", "@every", "@every -1h", "* * * *", "60 * * * *", "* 24 * * *", "0 0 31 2 *", "*/0 * * * *", "5-1 * * * *", "@reboot"} {
		if _, err := ParseSchedule(bad, nil); err == nil {
			t.Errorf("ParseSchedule(%q) accepted a bad schedule", bad)
		}
	}
}

func TestScheduleInZone(t *testing.T) {
	loc, err := time.LoadLocation("Asia/Kolkata") // +05:30: hours are not UTC-aligned
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	s, _ := ParseSchedule("0 * * * *", loc)
	got := s.Next(time.Date(2026, 1, 1, 10, 10, 0, 0, loc))
	if want := time.Date(2026, 1, 1, 11, 0, 0, 0, loc); !got.Equal(want) {
		t.Fatalf("next = %v, want %v", got, want)
	}
}
