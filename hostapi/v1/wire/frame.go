package wire

import (
	"fmt"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// A response is framed as a varint code; then, for CodeOK, the result message, and
// otherwise a length-prefixed error message.

// OK frames a successful response around the result the encode function writes
// (which may be nil for an empty result).
func OK(encode func(*Encoder)) []byte {
	e := &Encoder{buf: make([]byte, 1, 64)} // buf[0] = CodeOK
	if encode != nil {
		encode(e)
	}
	return e.buf
}

// Fail frames an error response: its code from hostapi.CodeOf and its message.
func Fail(err error) []byte {
	var e Encoder
	e.Uint(uint64(hostapi.CodeOf(err)))
	e.String(err.Error())
	return e.buf
}

// Result unframes a response: a decoder over the result message, or the error it
// carries as a *hostapi.Error.
func Result(resp []byte) (*Decoder, error) {
	d := NewDecoder(resp)
	if len(resp) == 0 {
		return nil, fmt.Errorf("%w: empty response", ErrMalformed)
	}
	code := hostapi.Code(d.Uint())
	if code == hostapi.CodeOK {
		return d, d.Err()
	}
	msg := d.String()
	if err := d.Err(); err != nil {
		return nil, err
	}
	return nil, &hostapi.Error{Code: code, Message: msg}
}
