package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/filegate/filegate/core/accounts"
	"github.com/filegate/filegate/core/store"
	"github.com/filegate/filegate/core/vfs"
	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/valyala/fasthttp"
)

// httpError is an error with the status it is answered with.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

// statusOf maps an error from any layer to the status the client gets. Unknown errors
// are 500 and their text is logged, not shown.
func statusOf(err error) (int, string) {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.status, he.msg
	case vfs.Refusal(err) != nil:
		return fasthttp.StatusForbidden, vfs.Refusal(err).Error()
	case errors.Is(err, accounts.ErrInvalid):
		return fasthttp.StatusBadRequest, err.Error()
	case errors.Is(err, accounts.ErrUnauthorized):
		return fasthttp.StatusUnauthorized, "unauthorized: missing, invalid or expired token"
	case errors.Is(err, accounts.ErrForbidden), errors.Is(err, hostapi.ErrPermission):
		return fasthttp.StatusForbidden, err.Error()
	case errors.Is(err, store.ErrNotFound), errors.Is(err, hostapi.ErrNotExist):
		return fasthttp.StatusNotFound, err.Error()
	case errors.Is(err, store.ErrDuplicate), errors.Is(err, store.ErrConflict), errors.Is(err, hostapi.ErrExist), errors.Is(err, hostapi.ErrNotEmpty):
		return fasthttp.StatusConflict, err.Error()
	case errors.Is(err, hostapi.ErrIsDir), errors.Is(err, hostapi.ErrNotDir), errors.Is(err, hostapi.ErrInvalid):
		return fasthttp.StatusBadRequest, err.Error()
	}
	return fasthttp.StatusInternalServerError, "internal error"
}

// errorBody is every error response: {"error": "message"}.
type errorBody struct {
	Error string `json:"error"`
}

func writeError(ctx *fasthttp.RequestCtx, status int, msg string) {
	writeJSON(ctx, status, errorBody{Error: msg})
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		ctx.SetBodyString(`{"error":"internal error"}`)
		return
	}
	ctx.SetBody(buf.Bytes())
}

// list is the envelope of every offset-paginated list.
type list[T any] struct {
	Data   []T `json:"data"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
	Total  int `json:"total"`
}

// drainLimit is how much of an oversized body is read and thrown away before the 413.
const drainLimit = 8 << 20

// decodeJSON reads a JSON request body into v strictly: unknown fields, trailing data,
// wrong types and bodies over max bytes are 4xx errors that name the problem.
func decodeJSON(ctx *fasthttp.RequestCtx, max int64, v any) error {
	var r io.Reader
	if s := ctx.RequestBodyStream(); s != nil {
		r = s
	} else {
		r = bytes.NewReader(ctx.PostBody())
	}
	if n := ctx.Request.Header.ContentLength(); n > 0 && int64(n) > max {
		// Read (a bounded part of) what the client is sending before answering, so it
		// gets the 413 instead of a connection reset in the middle of its upload.
		io.Copy(io.Discard, io.LimitReader(r, drainLimit))
		return errorf(fasthttp.StatusRequestEntityTooLarge, "request body of %d bytes is over the limit of %d", n, max)
	}
	body, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return errorf(fasthttp.StatusBadRequest, "reading request body: %v", err)
	}
	if int64(len(body)) > max {
		return errorf(fasthttp.StatusRequestEntityTooLarge, "request body is over the limit of %d bytes", max)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return errorf(fasthttp.StatusBadRequest, "request body is empty: want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf(fasthttp.StatusBadRequest, "invalid JSON: %s", describeJSONError(err))
	}
	if dec.More() {
		return errorf(fasthttp.StatusBadRequest, "invalid JSON: data after the object")
	}
	return nil
}

func describeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("field %s: want %s, got %s", te.Field, te.Type, te.Value)
		}
		return fmt.Sprintf("want %s, got %s", te.Type, te.Value)
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d: %v", se.Offset, se)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	}
	return err.Error() // e.g. `json: unknown field "X"`
}

// queryInt reads an integer query parameter within [min, max], with a default.
func queryInt(ctx *fasthttp.RequestCtx, name string, def, min, max int) (int, error) {
	s := string(ctx.QueryArgs().Peek(name))
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < min || n > max {
		return 0, errorf(fasthttp.StatusBadRequest, "query parameter %s=%q: want an integer from %d to %d", name, s, min, max)
	}
	return n, nil
}

// page reads limit and offset.
func page(ctx *fasthttp.RequestCtx) (limit, offset int, err error) {
	if limit, err = queryInt(ctx, "limit", 50, 1, 1000); err != nil {
		return 0, 0, err
	}
	offset, err = queryInt(ctx, "offset", 0, 0, 1<<30)
	return limit, offset, err
}
