package storeutil

import (
	"container/heap"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// Listing limits shared by the first-party backends.
const (
	DefaultLimit = 1000  // entries per page when ListOptions.Limit <= 0
	MaxLimit     = 10000 // larger limits are lowered to this
)

// Entry is one selected folder entry with the backend's own data attached.
type Entry[T any] struct {
	Name  string
	Value T
}

// Pager selects one page of a folder listing from entries offered in any order. It
// keeps only the page-size smallest matching names after the cursor, so listing a
// folder of any size takes memory bounded by the page size.
type Pager[T any] struct {
	limit               int
	after               string // only names > after; "" when starting at the beginning
	prefix              string
	dirsOnly, filesOnly bool
	kept                maxHeap[T] // at most limit+1 entries, the largest on top
}

// NewPager returns a Pager for opts. An undecodable cursor or asking for both
// DirsOnly and FilesOnly is an error wrapping hostapi.ErrInvalid.
func NewPager[T any](opts hostapi.ListOptions) (*Pager[T], error) {
	if opts.DirsOnly && opts.FilesOnly {
		return nil, fmt.Errorf("list: DirsOnly and FilesOnly are exclusive: %w", hostapi.ErrInvalid)
	}
	after, err := DecodeCursor(opts.Cursor)
	if err != nil {
		return nil, err
	}
	limit := opts.Limit
	switch {
	case limit <= 0:
		limit = DefaultLimit
	case limit > MaxLimit:
		limit = MaxLimit
	}
	return &Pager[T]{
		limit:     limit,
		after:     after,
		prefix:    opts.Prefix,
		dirsOnly:  opts.DirsOnly,
		filesOnly: opts.FilesOnly,
	}, nil
}

// Wants reports whether an entry called name could still make the page, before its
// kind is known; callers use it to skip costly lookups.
func (p *Pager[T]) Wants(name string) bool {
	if !strings.HasPrefix(name, p.prefix) || (p.after != "" && name <= p.after) {
		return false
	}
	return len(p.kept) <= p.limit || name < p.kept[0].Name
}

// Add offers one entry.
func (p *Pager[T]) Add(name string, isDir bool, v T) {
	if (p.dirsOnly && !isDir) || (p.filesOnly && isDir) || !p.Wants(name) {
		return
	}
	e := Entry[T]{Name: name, Value: v}
	if len(p.kept) <= p.limit {
		heap.Push(&p.kept, e)
		return
	}
	p.kept[0] = e
	heap.Fix(&p.kept, 0)
}

// Last returns the largest name kept so far, and whether the page is full (more
// entries than the limit are kept), so that only names below it can still make the
// page. Backends that list in an order close to name order use it to stop early.
func (p *Pager[T]) Last() (name string, full bool) {
	if len(p.kept) == 0 {
		return "", false
	}
	return p.kept[0].Name, len(p.kept) > p.limit
}

// Page returns the selected entries sorted by name, and the cursor of the next page
// ("" when there is none).
func (p *Pager[T]) Page() (entries []Entry[T], next string) {
	entries = slices.SortedFunc(slices.Values(p.kept), func(a, b Entry[T]) int {
		return strings.Compare(a.Name, b.Name)
	})
	p.kept = nil
	if len(entries) > p.limit {
		entries = entries[:p.limit]
		next = EncodeCursor(entries[len(entries)-1].Name)
	}
	return entries, next
}

// EncodeCursor returns the opaque cursor that resumes a listing after name.
func EncodeCursor(name string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(name))
}

// DecodeCursor returns the name a cursor resumes after; "" for the empty cursor.
func DecodeCursor(cursor string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", fmt.Errorf("list: bad cursor: %w", hostapi.ErrInvalid)
	}
	return string(b), nil
}

// maxHeap is a container/heap of entries with the largest name on top.
type maxHeap[T any] []Entry[T]

func (h maxHeap[T]) Len() int           { return len(h) }
func (h maxHeap[T]) Less(i, j int) bool { return h[i].Name > h[j].Name }
func (h maxHeap[T]) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *maxHeap[T]) Push(x any)        { *h = append(*h, x.(Entry[T])) }
func (h *maxHeap[T]) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
