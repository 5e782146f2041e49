package wire

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

func TestEventRoundTrip(t *testing.T) {
	ev := hostapi.Event{ID: 42, Time: time.Unix(1700000000, 123).UTC(), Type: hostapi.EventFileMoved, Protocol: "sftp",
		Account: "bob", Path: "/b", From: "/a", Size: -1, SHA256: "ff", RemoteAddr: "[::1]:22", IsDir: true,
		Done: 300, Total: 1200}
	var e Encoder
	PutEvent(&e, ev)
	d := NewDecoder(e.Bytes())
	if got := GetEvent(d); !reflect.DeepEqual(got, ev) || d.Err() != nil {
		t.Fatalf("got %+v, %v", got, d.Err())
	}
}

// putEventV11 is PutEvent as host API 1.1 wrote it, before Done and Total.
func putEventV11(e *Encoder, ev hostapi.Event) {
	e.Int(ev.ID)
	e.Time(ev.Time)
	e.String(ev.Type)
	e.String(ev.Protocol)
	e.String(ev.Account)
	e.String(ev.Path)
	e.String(ev.From)
	e.Int(ev.Size)
	e.String(ev.SHA256)
	e.String(ev.RemoteAddr)
	e.Bool(ev.IsDir)
}

// getEventV11 is GetEvent as a plugin built for host API 1.1 decodes an event.
func getEventV11(d *Decoder) hostapi.Event {
	return hostapi.Event{
		ID: d.Int(), Time: d.Time(), Type: d.String(), Protocol: d.String(), Account: d.String(),
		Path: d.String(), From: d.String(), Size: d.Int(), SHA256: d.String(),
		RemoteAddr: d.String(), IsDir: d.Bool(),
	}
}

// TestEventCompatibility: Done and Total (host API 1.2) are appended, so a plugin
// built for 1.1 decodes a 1.2 host's event with every field it knows and no error,
// and a 1.1 host's event decodes here with Done and Total 0.
func TestEventCompatibility(t *testing.T) {
	ev := hostapi.Event{ID: 9, Time: time.Unix(1700000000, 0).UTC(), Type: hostapi.EventDirMoving, Protocol: "http",
		Account: "a", Path: "/to", From: "/from", SHA256: "x", RemoteAddr: "1.2.3.4:5", IsDir: true,
		Done: 100, Total: 250}
	old := ev
	old.Done, old.Total = 0, 0

	var e Encoder
	PutEvent(&e, ev)
	d := NewDecoder(e.Bytes())
	if got := getEventV11(d); !reflect.DeepEqual(got, old) || d.Err() != nil {
		t.Errorf("a 1.1 plugin decodes %+v, %v; want %+v", got, d.Err(), old)
	}

	var e11 Encoder
	putEventV11(&e11, ev)
	d = NewDecoder(e11.Bytes())
	if got := GetEvent(d); !reflect.DeepEqual(got, old) || d.Err() != nil {
		t.Errorf("a 1.1 host's event decodes as %+v, %v; want %+v", got, d.Err(), old)
	}
}

// TestCompatibility: an older message (fewer fields) decodes with zero values, a newer
// one (more fields) decodes with the extra ignored.
func TestCompatibility(t *testing.T) {
	var e Encoder
	e.Bool(true)
	d := NewDecoder(e.Bytes())
	if dec := GetDecision(d); !dec.Allow || dec.Reason != "" || d.Err() != nil {
		t.Fatalf("older: %+v %v", dec, d.Err())
	}
	e.String("why")
	e.String("a field from v1.1")
	d = NewDecoder(e.Bytes())
	if dec := GetDecision(d); dec.Reason != "why" || d.Err() != nil {
		t.Fatalf("newer: %+v %v", dec, d.Err())
	}
}

func TestMalformed(t *testing.T) {
	for _, b := range [][]byte{{0x05, 'a'}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, {0x80}} {
		d := NewDecoder(b)
		_ = d.String()
		if !errors.Is(d.Err(), ErrMalformed) {
			t.Errorf("%x: %v", b, d.Err())
		}
	}
	if _, err := Result(nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("empty response: %v", err)
	}
}

func TestErrorCodes(t *testing.T) {
	_, err := Result(Fail(&hostapi.NotGrantedError{Plugin: "p", Call: "kv.get", Grant: "kv"}))
	if !errors.Is(err, hostapi.ErrNotGranted) || err.Error() == "" {
		t.Fatalf("not granted: %v", err)
	}
	_, err = Result(Fail(context.DeadlineExceeded))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %v", err)
	}
}

type rule struct{}

func (rule) Manifest() hostapi.Manifest { return hostapi.Manifest{Name: "r", Kind: hostapi.KindRule} }
func (rule) OnEvent(context.Context, hostapi.Host, hostapi.Event) error {
	return hostapi.ErrNotExist
}
func (rule) OnSchedule(context.Context, hostapi.Host, hostapi.Run) error { panic("boom") }

func TestServe(t *testing.T) {
	ctx := context.Background()
	_, err := Result(Serve(ctx, rule{}, nil, MethodOnEvent, nil))
	if !errors.Is(err, hostapi.ErrNotExist) {
		t.Errorf("OnEvent: %v", err)
	}
	if _, err := Result(Serve(ctx, rule{}, nil, MethodOnSchedule, nil)); err == nil {
		t.Error("panic: no error")
	}
	if _, err := Result(Serve(ctx, rule{}, nil, MethodAuthorize, nil)); !errors.Is(err, hostapi.ErrUnimplemented) {
		t.Errorf("Authorize on a rule: %v", err)
	}
	if _, err := Result(Serve(ctx, rule{}, nil, MethodOnEvent, []byte{0x80})); !errors.Is(err, hostapi.ErrInvalid) {
		t.Errorf("garbage request: %v", err)
	}
	d, err := Result(Serve(ctx, rule{}, nil, MethodManifest, nil))
	if m := GetManifest(d); err != nil || m.APIVersion != hostapi.Version {
		t.Errorf("manifest: %+v %v", m, err)
	}
}
