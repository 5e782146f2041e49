package trigger

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// Schedule says when a scheduled rule is due.
type Schedule interface {
	// Next is the first due time strictly after t.
	Next(t time.Time) time.Time
	// String is the schedule as written.
	String() string
}

// ParseSchedule parses "@every DURATION" (any positive duration), the shorthands @hourly, @daily (@midnight), @weekly,
// @monthly, @yearly (@annually), or a 5-field cron expression "MIN HOUR DOM MONTH DOW"
// with *, lists (1,15), ranges (1-5) and steps (*/10, 0-30/5). Cron times are in loc
// (nil means UTC). As in classic cron, when both DOM and DOW are restricted a day
// matching either is due; DOW 0 and 7 are Sunday.
func ParseSchedule(s string, loc *time.Location) (Schedule, error) {
	if loc == nil {
		loc = time.UTC
	}
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "@every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("schedule %q: want \"@every\" and a positive duration such as 1h or 15m", s)
		}
		return every{d: d, text: s}, nil
	}
	expr := s
	switch s {
	case "@hourly":
		expr = "0 * * * *"
	case "@daily", "@midnight":
		expr = "0 0 * * *"
	case "@weekly":
		expr = "0 0 * * 0"
	case "@monthly":
		expr = "0 0 1 * *"
	case "@yearly", "@annually":
		expr = "0 0 1 1 *"
	}
	c, err := parseCron(expr, loc)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", s, err)
	}
	c.text = s
	if c.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, loc)).IsZero() {
		return nil, fmt.Errorf("schedule %q: never due (no such day)", s)
	}
	return c, nil
}

// every is "@every d": due at the multiples of d since the Unix epoch, so that every
// node computes the same due times.
type every struct {
	d    time.Duration
	text string
}

func (e every) Next(t time.Time) time.Time { return t.Truncate(e.d).Add(e.d) }
func (e every) String() string             { return e.text }

// cron is a parsed 5-field expression; each field is a bit set of allowed values.
type cron struct {
	minute, hour, dom, month, dow uint64
	domStar, dowStar              bool
	loc                           *time.Location
	text                          string
}

var cronFields = []struct {
	name     string
	min, max int
}{{"minute", 0, 59}, {"hour", 0, 23}, {"day of month", 1, 31}, {"month", 1, 12}, {"day of week", 0, 7}}

func parseCron(expr string, loc *time.Location) (*cron, error) {
	f := strings.Fields(expr)
	if len(f) != 5 {
		return nil, fmt.Errorf("want 5 fields (minute hour day-of-month month day-of-week) or @every DURATION, got %d fields", len(f))
	}
	var sets [5]uint64
	for i, field := range f {
		set, err := parseField(field, cronFields[i].min, cronFields[i].max)
		if err != nil {
			return nil, fmt.Errorf("%s field %q: %w", cronFields[i].name, field, err)
		}
		sets[i] = set
	}
	if sets[4]&(1<<7) != 0 { // 7 is Sunday too
		sets[4] = sets[4]&^(1<<7) | 1
	}
	return &cron{minute: sets[0], hour: sets[1], dom: sets[2], month: sets[3], dow: sets[4],
		domStar: f[2] == "*" || strings.HasPrefix(f[2], "*/"), dowStar: f[4] == "*" || strings.HasPrefix(f[4], "*/"), loc: loc}, nil
}

func parseField(field string, lo, hi int) (uint64, error) {
	var set uint64
	for _, part := range strings.Split(field, ",") {
		rng, stepText, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("step %q: want a positive integer", stepText)
			}
			step = n
		}
		from, to := lo, hi
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err error
			if from, err = number(a, lo, hi); err != nil {
				return 0, err
			}
			if to, err = number(b, lo, hi); err != nil {
				return 0, err
			}
			if from > to {
				return 0, fmt.Errorf("range %q runs backwards", rng)
			}
		default:
			n, err := number(rng, lo, hi)
			if err != nil {
				return 0, err
			}
			from, to = n, n
			if hasStep {
				to = hi
			}
		}
		for v := from; v <= to; v += step {
			set |= 1 << v
		}
	}
	return set, nil
}

func number(s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%q: want a number from %d to %d", s, lo, hi)
	}
	return n, nil
}

func has(set uint64, v int) bool { return set&(1<<v) != 0 }

func (c *cron) dayMatches(t time.Time) bool {
	dom, dow := has(c.dom, t.Day()), has(c.dow, int(t.Weekday()))
	switch {
	case c.domStar && c.dowStar:
		return true
	case c.domStar:
		return dow
	case c.dowStar:
		return dom
	}
	return dom || dow
}

// Next walks forward field by field (month, day, hour, minute), so a yearly schedule
// takes a few dozen steps, not half a million minutes.
func (c *cron) Next(after time.Time) time.Time {
	t := after.In(c.loc).Truncate(time.Minute).Add(time.Minute)
	// Any day/month combination that can happen at all happens within 28 years (the
	// calendar repeats); past that the expression is never due.
	limit := t.AddDate(30, 0, 0)
	for t.Before(limit) {
		switch {
		case !has(c.month, int(t.Month())):
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, c.loc)
		case !c.dayMatches(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, c.loc)
		case !has(c.hour, t.Hour()):
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, c.loc)
		case !has(c.minute, t.Minute()):
			t = t.Add(time.Duration(nextBit(c.minute, t.Minute())-t.Minute()) * time.Minute)
		default:
			return t
		}
	}
	return time.Time{} // never due (e.g. "0 0 31 2 *")
}

// nextBit is the smallest value in set above v, or 60 (the next hour) when none is.
func nextBit(set uint64, v int) int {
	rest := set >> (v + 1) << (v + 1)
	if rest == 0 {
		return 60
	}
	return bits.TrailingZeros64(rest)
}

func (c *cron) String() string { return c.text }
