// Package wire is the binary encoding of host API v1 messages, shared by the WASM ABI
// and the process transport, and the two ends of each direction: the plugin client the
// host uses (NewRule, NewAuth, ReadManifest) with the dispatcher a plugin serves
// (Serve), and the host client a plugin uses (NewHost) with the dispatcher the host
// serves (ServeHost). ABI.md in the parent folder specifies the encoding.
//
// A message is a sequence of fields in a fixed order, with no tags: unsigned integers
// and lengths as LEB128 varints, signed integers zig-zag varints, strings and byte
// strings as a length and the bytes. A decoder reads missing trailing fields as zero
// values and ignores extra trailing bytes, so that fields appended within v1 stay
// compatible both ways.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrMalformed is returned for bytes that are not a valid message.
var ErrMalformed = errors.New("malformed message")

// Encoder appends fields to a message.
type Encoder struct{ buf []byte }

// encoders recycles the request encoders of the plugin clients: a 1 KiB event
// otherwise grows a fresh buffer through eight sizes on every call.
var encoders = sync.Pool{New: func() any { return &Encoder{buf: make([]byte, 0, 1<<10)} }}

// maxPooled is the largest buffer an Encoder goes back to the pool with.
const maxPooled = 64 << 10

// release returns e to the pool; e and its bytes must not be used after.
func (e *Encoder) release() {
	if cap(e.buf) > maxPooled {
		return
	}
	e.buf = e.buf[:0]
	encoders.Put(e)
}

// Bytes returns the encoded message.
func (e *Encoder) Bytes() []byte { return e.buf }

// Uint appends an unsigned varint.
func (e *Encoder) Uint(v uint64) { e.buf = binary.AppendUvarint(e.buf, v) }

// Int appends a zig-zag varint.
func (e *Encoder) Int(v int64) { e.buf = binary.AppendVarint(e.buf, v) }

// Bool appends 1 or 0.
func (e *Encoder) Bool(v bool) {
	if v {
		e.buf = append(e.buf, 1)
	} else {
		e.buf = append(e.buf, 0)
	}
}

// String appends a length-prefixed string.
func (e *Encoder) String(s string) { e.Uint(uint64(len(s))); e.buf = append(e.buf, s...) }

// Blob appends a length-prefixed byte string.
func (e *Encoder) Blob(b []byte) { e.Uint(uint64(len(b))); e.buf = append(e.buf, b...) }

// Strings appends a count and the strings.
func (e *Encoder) Strings(ss []string) {
	e.Uint(uint64(len(ss)))
	for _, s := range ss {
		e.String(s)
	}
}

// Time appends Unix nanoseconds as a zig-zag varint; the zero Time is 0.
func (e *Encoder) Time(t time.Time) {
	if t.IsZero() {
		e.Int(0)
		return
	}
	e.Int(t.UnixNano())
}

// Decoder reads fields from a message. The first error sticks: later reads return
// zero values and Err reports it.
type Decoder struct {
	buf []byte
	err error
}

// NewDecoder reads the message b.
func NewDecoder(b []byte) *Decoder { return &Decoder{buf: b} }

// Err is the first decoding error, wrapping ErrMalformed.
func (d *Decoder) Err() error { return d.err }

func (d *Decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s", ErrMalformed, what)
	}
	d.buf = nil
}

// Uint reads an unsigned varint.
func (d *Decoder) Uint() uint64 {
	if len(d.buf) == 0 {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

// Int reads a zig-zag varint.
func (d *Decoder) Int() int64 {
	if len(d.buf) == 0 {
		return 0
	}
	v, n := binary.Varint(d.buf)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

// Bool reads a byte 0 or 1.
func (d *Decoder) Bool() bool {
	if len(d.buf) == 0 {
		return false
	}
	b := d.buf[0]
	d.buf = d.buf[1:]
	if b > 1 {
		d.fail("bool")
	}
	return b == 1
}

func (d *Decoder) raw(what string) []byte {
	n := d.Uint()
	if n > uint64(len(d.buf)) {
		d.fail(what + " length")
		return nil
	}
	b := d.buf[:n:n]
	d.buf = d.buf[n:]
	return b
}

// String reads a length-prefixed string.
func (d *Decoder) String() string { return string(d.raw("string")) }

// Blob reads a length-prefixed byte string, copied.
func (d *Decoder) Blob() []byte {
	b := d.raw("bytes")
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// Strings reads a count and the strings.
func (d *Decoder) Strings() []string {
	n := d.Uint()
	if n > uint64(len(d.buf)) { // each string takes at least one byte
		d.fail("list length")
		return nil
	}
	if n == 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.String()
	}
	return ss
}

// Time reads Unix nanoseconds; 0 is the zero Time.
func (d *Decoder) Time() time.Time {
	ns := d.Int()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}
