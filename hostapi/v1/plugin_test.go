package hostapi

import "testing"

func TestCompatible(t *testing.T) {
	for _, c := range []struct {
		host, plugin string
		ok           bool
	}{
		{"1.0", "1.0", true}, {"1.2", "1.1", true}, {"1.0", "1.1", false}, {"1.0", "2.0", false},
		{"1.0", "", false}, {"1.0", "1", false}, {"1.0", "x.y", false},
	} {
		if got := Compatible(c.host, c.plugin); got != c.ok {
			t.Errorf("Compatible(%q, %q) = %v", c.host, c.plugin, got)
		}
	}
}
