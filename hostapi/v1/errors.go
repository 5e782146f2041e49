package hostapi

import (
	"context"
	"errors"
	"fmt"
)

// Code is the error code carried across the WASM ABI and the process transport.
// Codes are part of the contract: new ones may be added within a major version, and
// an unknown code must be treated as CodeInternal.
type Code uint32

// The error codes. ABI.md lists them with their meaning.
const (
	CodeOK            Code = 0
	CodeInternal      Code = 1  // any other failure; the message says what
	CodeNotExist      Code = 2  // ErrNotExist
	CodeExist         Code = 3  // ErrExist
	CodePermission    Code = 4  // ErrPermission
	CodeInvalid       Code = 5  // ErrInvalid: a malformed request or argument
	CodeNotDir        Code = 6  // ErrNotDir
	CodeIsDir         Code = 7  // ErrIsDir
	CodeNotEmpty      Code = 8  // ErrNotEmpty
	CodeNotGranted    Code = 9  // ErrNotGranted: the call needs a grant the operator did not give
	CodeUnimplemented Code = 10 // ErrUnimplemented: unknown method or host call
	CodeTimeout       Code = 11 // context.DeadlineExceeded
	CodeCanceled      Code = 12 // context.Canceled
	CodeTooLarge      Code = 13 // ErrTooLarge: a size limit was exceeded
)

// More errors the host API returns, matched with errors.Is.
var (
	ErrNotGranted    = errors.New("capability not granted")
	ErrUnimplemented = errors.New("not implemented")
	ErrTooLarge      = errors.New("too large")
)

// codeErrs maps codes to errors, the more specific first: a backend's error may match
// several (syscall.ENOTEMPTY is also fs.ErrExist), and CodeOf takes the first match.
var codeErrs = []struct {
	code Code
	err  error
}{
	{CodeNotEmpty, ErrNotEmpty}, {CodeNotDir, ErrNotDir}, {CodeIsDir, ErrIsDir},
	{CodeNotExist, ErrNotExist}, {CodeExist, ErrExist}, {CodePermission, ErrPermission},
	{CodeInvalid, ErrInvalid}, {CodeNotGranted, ErrNotGranted},
	{CodeUnimplemented, ErrUnimplemented}, {CodeTimeout, context.DeadlineExceeded},
	{CodeCanceled, context.Canceled}, {CodeTooLarge, ErrTooLarge},
}

// CodeOf returns the code for err: CodeOK for nil, the matching code for the errors
// above, CodeInternal for anything else.
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	for _, c := range codeErrs {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return CodeInternal
}

// Error is an error received across a transport: its code and message. It matches
// the error its code stands for with errors.Is.
type Error struct {
	Code    Code
	Message string
}

// Error returns the message.
func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("error code %d", e.Code)
	}
	return e.Message
}

// Is reports whether target is the error e.Code stands for.
func (e *Error) Is(target error) bool {
	for _, c := range codeErrs {
		if c.code == e.Code {
			return target == c.err
		}
	}
	return false
}

// NotGrantedError is the error of a host call the operator did not grant.
type NotGrantedError struct {
	Plugin string // the rule or plugin name in gateway.toml
	Call   string // the host call, e.g. "storage.move"
	Grant  string // the missing capability, e.g. "storage:archive"
}

// Error names the call and the missing grant.
func (e *NotGrantedError) Error() string {
	return fmt.Sprintf("plugin %q: host call %s needs the grant %q: add it to the plugin's allow list in gateway.toml",
		e.Plugin, e.Call, e.Grant)
}

// Unwrap makes the error match ErrNotGranted.
func (e *NotGrantedError) Unwrap() error { return ErrNotGranted }
