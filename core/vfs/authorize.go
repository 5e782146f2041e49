package vfs

import (
	"context"
	"errors"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// Authorizer decides single operations by a policy beyond the session's rights (the
// gateway's auth plugins). Authorize returns nil to allow op, a *RefusedError to
// refuse it with a reason the client is shown, or another error when it could not
// decide (the operation then fails without telling the client why).
type Authorizer interface {
	Authorize(ctx context.Context, op hostapi.Operation) error
}

// RefusedError is an operation an Authorizer refused. Its message is the policy's
// reason, shown to the client as is (FTP 550, SFTP permission denied, HTTP 403); it
// matches hostapi.ErrPermission with errors.Is.
type RefusedError struct {
	Reason string // e.g. "uploads of *.exe refused"
}

// Error returns the reason.
func (e *RefusedError) Error() string {
	if e.Reason == "" {
		return "refused by policy"
	}
	return e.Reason
}

// Unwrap makes the error match hostapi.ErrPermission.
func (e *RefusedError) Unwrap() error { return ErrPermission }

// Refusal returns the *RefusedError in err's chain, or nil.
func Refusal(err error) *RefusedError {
	var r *RefusedError
	if errors.As(err, &r) {
		return r
	}
	return nil
}

// AuthorizeWith makes f ask a before every upload, download, delete, rename, mkdir
// and list, and returns f. Call it before f is in use; nil asks nobody.
func (f *FS) AuthorizeWith(a Authorizer) *FS {
	f.authz = a
	return f
}

// authorize asks the Authorizer, if any, about action on t (to is a rename's target,
// size an upload's size or -1). A refusal fails with it; a failure to decide fails as
// a storage failure would.
func (f *FS) authorize(ctx context.Context, action string, t target, to string, size int64) error {
	if f.authz == nil {
		return nil
	}
	err := f.authz.Authorize(ctx, hostapi.Operation{
		Protocol: f.session.Protocol, Account: f.session.Account,
		Action: action, Path: t.tenant, To: to, Size: size,
	})
	switch {
	case err == nil:
		return nil
	case Refusal(err) != nil:
		return t.deny(action, err)
	}
	return t.fail(action, err)
}
