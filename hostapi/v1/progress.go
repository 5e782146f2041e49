package hostapi

import "context"

// Progress is how far a long storage operation has come: a folder rename on an object
// store moves one object at a time and may take minutes.
type Progress struct {
	Done  int64  // entries handled so far
	Total int64  // entries to handle in all, as known when the operation started; 0 if unknown
	Path  string // the path the operation works on, as the backend sees it
}

// ProgressFunc receives progress reports. It must be safe for concurrent use and
// return quickly: the operation waits for it.
type ProgressFunc func(Progress)

type progressKey struct{}

// WithProgress returns a copy of ctx carrying f: a backend's long operations under the
// returned context report their progress to f (see ReportProgress).
//
// The report travels in the context, so it reaches builtin backends only; calls into
// wasm and process plugins do not carry it, and those report nothing.
func WithProgress(ctx context.Context, f ProgressFunc) context.Context {
	return context.WithValue(ctx, progressKey{}, f)
}

// ReportProgress hands p to the ProgressFunc ctx carries, if any; without one it does
// nothing. Backends call it every so often during a long operation, and once at its
// end with Done == Total.
func ReportProgress(ctx context.Context, p Progress) {
	if f, ok := ctx.Value(progressKey{}).(ProgressFunc); ok && f != nil {
		f(p)
	}
}
