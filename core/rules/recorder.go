package rules

import (
	"context"
	"net/http"
	"sync/atomic"
)

// Recorder collects what the outbound HTTP calls of one run answered, for the
// attempts log (a webhook's deliveries log shows the receiver's status code).
type Recorder struct{ status atomic.Int32 }

// Status is the status of the last response seen, 0 if none.
func (r *Recorder) Status() int { return int(r.status.Load()) }

type recorderKey struct{}

// WithRecorder returns a context whose HTTP calls (made with a client using
// Transport) report to rec.
func WithRecorder(ctx context.Context, rec *Recorder) context.Context {
	return context.WithValue(ctx, recorderKey{}, rec)
}

// Transport wraps base (nil means http.DefaultTransport) so that each response reports
// its status to the Recorder of the request's context. Give the plugins' HTTP client
// this transport.
func Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return recordingTransport{base}
}

type recordingTransport struct{ base http.RoundTripper }

func (t recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if rec, ok := req.Context().Value(recorderKey{}).(*Recorder); ok && err == nil {
		rec.status.Store(int32(resp.StatusCode))
	}
	return resp, err
}
