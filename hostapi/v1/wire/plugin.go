package wire

import (
	"context"
	"errors"
	"fmt"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// Method numbers a plugin export (the method argument of fg_call).
type Method uint32

// The plugin methods of host API v1.
const (
	MethodManifest     Method = 0 // () → Manifest
	MethodOnEvent      Method = 1 // Event → ()
	MethodOnSchedule   Method = 2 // Run → ()
	MethodAuthenticate Method = 3 // Login → LoginResult
	MethodAuthorize    Method = 4 // Operation → Decision
)

var methodNames = [...]string{"Manifest", "OnEvent", "OnSchedule", "Authenticate", "Authorize",
	"StorageOpen", "Stat", "List", "Open", "Read", "Close", "Create", "Write", "Commit", "Abort",
	"Mkdir", "Rename", "Remove", "Chtimes", "SweepTemp"}

// String is the method's name in the Go interfaces.
func (m Method) String() string {
	if int(m) < len(methodNames) {
		return methodNames[m]
	}
	return fmt.Sprintf("method %d", uint32(m))
}

// Serve runs one call of method on p with the request message req and returns the
// framed response. It never panics: a panic in p is returned as a CodeInternal error,
// and a malformed request as CodeInvalid.
func Serve(ctx context.Context, p hostapi.Plugin, host hostapi.Host, method Method, req []byte) (resp []byte) {
	defer func() {
		if v := recover(); v != nil {
			resp = Fail(fmt.Errorf("plugin panicked in %s: %v", method, v))
		}
	}()
	d := NewDecoder(req)
	var encode func(*Encoder)
	var err error
	switch method {
	case MethodManifest:
		m := p.Manifest()
		if m.APIVersion == "" {
			m.APIVersion = hostapi.Version
		}
		encode = func(e *Encoder) { PutManifest(e, m) }
	case MethodOnEvent, MethodOnSchedule:
		r, ok := p.(hostapi.Rule)
		if !ok {
			return unimplemented(p, method)
		}
		if method == MethodOnEvent {
			ev := GetEvent(d)
			if d.Err() == nil {
				err = r.OnEvent(ctx, host, ev)
			}
		} else {
			run := GetRun(d)
			if d.Err() == nil {
				err = r.OnSchedule(ctx, host, run)
			}
		}
	case MethodAuthenticate:
		a, ok := p.(hostapi.Auth)
		if !ok {
			return unimplemented(p, method)
		}
		login := GetLogin(d)
		if d.Err() == nil {
			var res hostapi.LoginResult
			res, err = a.Authenticate(ctx, host, login)
			encode = func(e *Encoder) { PutLoginResult(e, res) }
		}
	case MethodAuthorize:
		a, ok := p.(hostapi.Auth)
		if !ok {
			return unimplemented(p, method)
		}
		op := GetOperation(d)
		if d.Err() == nil {
			var dec hostapi.Decision
			dec, err = a.Authorize(ctx, host, op)
			encode = func(e *Encoder) { PutDecision(e, dec) }
		}
	default:
		return unimplemented(p, method)
	}
	if derr := d.Err(); derr != nil {
		return Fail(fmt.Errorf("%s request: %w: %w", method, hostapi.ErrInvalid, derr))
	}
	if err != nil {
		return Fail(err)
	}
	return OK(encode)
}

func unimplemented(p hostapi.Plugin, m Method) []byte {
	return Fail(fmt.Errorf("%w: %s plugin has no %s", hostapi.ErrUnimplemented, p.Manifest().Kind, m))
}

// Conn carries calls to a plugin over a transport (a wasm instance pool, a plugin
// process). Call sends the request message req to method, makes host serve the
// plugin's host calls while the call runs, and returns the framed response; its error
// is a transport failure (a trap, a crash, a deadline).
type Conn interface {
	Call(ctx context.Context, host hostapi.Host, method Method, req []byte) ([]byte, error)
}

// ReadManifest asks the plugin behind conn for its manifest.
func ReadManifest(ctx context.Context, conn Conn) (hostapi.Manifest, error) {
	var m hostapi.Manifest
	err := call(ctx, conn, nil, MethodManifest, nil, func(d *Decoder) { m = GetManifest(d) })
	return m, err
}

// call encodes a request, calls the plugin and decodes a successful result.
func call(ctx context.Context, conn Conn, host hostapi.Host, m Method, encode func(*Encoder), decode func(*Decoder)) error {
	e := encoders.Get().(*Encoder)
	defer e.release()
	if encode != nil {
		encode(e)
	}
	resp, err := conn.Call(ctx, host, m, e.Bytes())
	if err != nil {
		return &TransportError{err}
	}
	d, err := Result(resp)
	if err != nil {
		if errors.Is(err, ErrMalformed) {
			return fmt.Errorf("plugin returned a malformed %s response (%d bytes): %w", m, len(resp), err)
		}
		return err
	}
	if decode != nil {
		decode(d)
		if err := d.Err(); err != nil {
			return fmt.Errorf("plugin returned a malformed %s result: %w", m, err)
		}
	}
	return nil
}

// remote is a plugin behind a Conn.
type remote struct {
	conn     Conn
	manifest hostapi.Manifest
}

func (r remote) Manifest() hostapi.Manifest { return r.manifest }

type ruleClient struct{ remote }

// NewRule returns the rule plugin behind conn, whose manifest was read with
// ReadManifest.
func NewRule(conn Conn, m hostapi.Manifest) hostapi.Rule { return ruleClient{remote{conn, m}} }

func (r ruleClient) OnEvent(ctx context.Context, host hostapi.Host, ev hostapi.Event) error {
	return call(ctx, r.conn, host, MethodOnEvent, func(e *Encoder) { PutEvent(e, ev) }, nil)
}

func (r ruleClient) OnSchedule(ctx context.Context, host hostapi.Host, run hostapi.Run) error {
	return call(ctx, r.conn, host, MethodOnSchedule, func(e *Encoder) { PutRun(e, run) }, nil)
}

type authClient struct{ remote }

// NewAuth returns the auth plugin behind conn, whose manifest was read with
// ReadManifest.
func NewAuth(conn Conn, m hostapi.Manifest) hostapi.Auth { return authClient{remote{conn, m}} }

func (a authClient) Authenticate(ctx context.Context, host hostapi.Host, l hostapi.Login) (hostapi.LoginResult, error) {
	var res hostapi.LoginResult
	err := call(ctx, a.conn, host, MethodAuthenticate, func(e *Encoder) { PutLogin(e, l) },
		func(d *Decoder) { res = GetLoginResult(d) })
	return res, err
}

func (a authClient) Authorize(ctx context.Context, host hostapi.Host, op hostapi.Operation) (hostapi.Decision, error) {
	var dec hostapi.Decision
	err := call(ctx, a.conn, host, MethodAuthorize, func(e *Encoder) { PutOperation(e, op) },
		func(d *Decoder) { dec = GetDecision(d) })
	return dec, err
}
