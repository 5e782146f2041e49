package httpapi

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net/textproto"
	"strings"

	"github.com/filegate/filegate/core/internal/iobuf"
)

// This file is a streaming reader of multipart/form-data request bodies (RFC 2046,
// RFC 7578), written for uploads. mime/multipart reads the body through a 4 KiB
// buffer, looks for the boundary a few KiB at a time and copies every byte of a file
// once more on its way out; here the body is read into one iobuf.ChunkSize buffer,
// searched with one bytes.Index per fill, and a part's bytes are handed to its
// destination straight out of that buffer (formPart.WriteTo), or, for a reader with
// large buffers of its own, received straight into those (formPart.readDirect).
//
// What is accepted is what mime/multipart accepts (FuzzMultipart checks it): a
// preamble and an epilogue, which are skipped; transport padding (spaces and tabs)
// after a boundary; CRLF or, when the first boundary line ends in a bare LF, LF line
// endings; a closing "--boundary--" with or without a line end after it; part headers
// as net/textproto reads them; and a part with "Content-Transfer-Encoding:
// quoted-printable", whose body is decoded (through the slower Read path) and whose
// header is removed, as mime/multipart's NextPart does. Other transfer encodings are
// passed through undecoded, as there.
//
// A body that ends inside the headers of a part is refused; mime/multipart takes it
// for the end of the body, which would store a truncated upload's earlier parts.
// Otherwise, the differences are limits: the block of headers of a part must fit in
// maxPartHeader bytes (mime/multipart allows 10 MiB) and at most maxPartHeaders
// header lines; a line before a boundary may be as long as the buffer (mime/multipart
// stops at 4 KiB); and the boundary must be 1 to maxBoundary bytes without CR or LF
// (mime/multipart takes any non-empty one, and with a CR or LF in it may take the
// start of a delimiter for data).

const (
	// maxBoundary bounds the boundary, which the scanner holds back at the end of
	// the buffer while it cannot tell whether a delimiter starts there. RFC 2046 allows
	// 70 bytes; clients stay well under this.
	maxBoundary = 1000
	// maxPartHeader bounds the block of headers of one part; browsers, curl and HTTPie
	// send a few hundred bytes.
	maxPartHeader = 64 << 10
	// maxPartHeaders is mime/multipart's limit on the header lines of one part.
	maxPartHeaders = 10000
	// maxEmptyReads is how many reads returning nothing in a row are taken for a
	// broken body reader, as bufio does.
	maxEmptyReads = 100
)

var (
	errTruncated       = fmt.Errorf("multipart: body ends before the closing boundary: %w", io.ErrUnexpectedEOF)
	errHeaderTruncated = fmt.Errorf("multipart: body ends in a part header: %w", io.ErrUnexpectedEOF)
	errPartHeaderLarge = fmt.Errorf("multipart: part header is over %d bytes or %d lines", maxPartHeader, maxPartHeaders)
)

// partReader reads the parts of a multipart body one after the other, like
// mime/multipart.Reader, from one large buffer.
type partReader struct {
	src    io.Reader
	buf    []byte
	pooled bool  // buf is from iobuf and goes back there on release
	r, w   int   // buf[r:w] is read from src and not yet consumed
	err    error // the error src returned, io.EOF at the end of the body; src is not read again

	// The delimiters, as in mime/multipart: nl is "\r\n" or, once the first
	// boundary line ends in a bare "\n", "\n".
	nl               []byte // "\r\n" or "\n"
	nlDashBoundary   []byte // nl + "--boundary"
	dashBoundary     []byte // "--boundary"
	dashBoundaryDash []byte // "--boundary--"

	partsRead int
	cur       *formPart // the part being read, if any
	done      error     // io.EOF after the closing boundary, or the error that ended the body

	hbody *bytes.Reader // a part's header block, for hbuf
	hbuf  *bufio.Reader // what textproto reads a header block from
}

// newPartReader returns a partReader of the body read from src, with a buffer from
// iobuf that release returns.
func newPartReader(src io.Reader, boundary string) (*partReader, error) {
	pr, err := newPartReaderBuffer(src, boundary, iobuf.Get())
	if err != nil {
		return nil, err
	}
	pr.pooled = true
	return pr, nil
}

// newPartReaderBytes returns a partReader of a body held in memory, used in place as
// its buffer: nothing is copied, and body is never written to.
func newPartReaderBytes(body []byte, boundary string) (*partReader, error) {
	pr, err := newPartReaderBuffer(nil, boundary, body)
	if err != nil {
		return nil, err
	}
	pr.w, pr.err = len(body), io.EOF
	return pr, nil
}

// newPartReaderBuffer returns a partReader of src reading into buf, which must have
// room for a few delimiters.
func newPartReaderBuffer(src io.Reader, boundary string, buf []byte) (*partReader, error) {
	switch {
	case boundary == "":
		return nil, errors.New("multipart: the boundary is empty")
	case len(boundary) > maxBoundary:
		return nil, fmt.Errorf("multipart: the boundary is %d bytes long, over the limit of %d", len(boundary), maxBoundary)
	case strings.ContainsAny(boundary, "\r\n"):
		return nil, fmt.Errorf("multipart: the boundary %q contains a line break", boundary)
	case src != nil && len(buf) < 2*len(boundary)+16:
		return nil, fmt.Errorf("multipart: a buffer of %d bytes is too small for boundary %q", len(buf), boundary)
	}
	b := []byte("\r\n--" + boundary + "--")
	return &partReader{
		src:              src,
		buf:              buf,
		nl:               b[:2],
		nlDashBoundary:   b[:len(b)-2],
		dashBoundaryDash: b[2:],
		dashBoundary:     b[2 : len(b)-2],
	}, nil
}

// release returns the buffer to iobuf. Neither pr nor its parts are used after.
func (pr *partReader) release() {
	if pr.pooled {
		iobuf.Put(pr.buf)
	}
	pr.buf, pr.pooled, pr.r, pr.w = nil, false, 0, 0
	if pr.done == nil {
		pr.done = errors.New("multipart: reader released")
	}
}

// fill reads more of the body into the buffer, first moving what is not consumed yet
// to its start. With full, it reads until the buffer is full or the body ends, so
// that a part is handed on in chunks as large as the buffer; else it reads once.
func (pr *partReader) fill(full bool) {
	if pr.err != nil {
		return // also keeps an in-memory body from being written to
	}
	if pr.r > 0 {
		pr.w = copy(pr.buf, pr.buf[pr.r:pr.w])
		pr.r = 0
	}
	for empty := 0; pr.w < len(pr.buf); {
		n, err := pr.src.Read(pr.buf[pr.w:])
		pr.w += n
		switch {
		case err != nil:
			pr.err = err
			return
		case n > 0:
			empty = 0
			if !full {
				return
			}
		default:
			if empty++; empty == maxEmptyReads {
				pr.err = io.ErrNoProgress
				return
			}
		}
	}
}

// readErr is the error a part ends with when its data runs into the end of what src
// gave: nil while more may come.
func (pr *partReader) readErr() error {
	switch pr.err {
	case nil:
		return nil
	case io.EOF:
		return errTruncated
	}
	return fmt.Errorf("multipart: reading the body: %w", pr.err)
}

// NextPart returns the next part of the body, skipping what is left of the current
// one, or io.EOF after the closing boundary. After an error, it returns that error
// again.
func (pr *partReader) NextPart() (*formPart, error) {
	if pr.done != nil {
		return nil, pr.done
	}
	p, err := pr.nextPart()
	if err != nil {
		pr.done = err
	}
	pr.cur = p
	return p, err
}

// nextPart follows mime/multipart.Reader.NextPart line by line, so that the same
// bodies are accepted.
func (pr *partReader) nextPart() (*formPart, error) {
	if p := pr.cur; p != nil {
		pr.cur = nil
		if err := p.discard(); err != nil {
			return nil, err
		}
	}
	expectNewPart := false
	for {
		line, err := pr.readLine()
		if err == io.EOF && pr.isFinalBoundary(line) {
			// "--boundary--" at the very end, without a line end.
			return nil, io.EOF
		}
		switch {
		case err == io.EOF:
			return nil, errTruncated
		case err != nil:
			return nil, err
		}
		if pr.isBoundaryDelimiterLine(line) {
			pr.partsRead++
			return pr.newPart()
		}
		if pr.isFinalBoundary(line) {
			return nil, io.EOF // the epilogue, if any, is never read
		}
		if expectNewPart {
			return nil, fmt.Errorf("multipart: want a boundary after the line end that ends a part, got %q", line)
		}
		if pr.partsRead == 0 {
			continue // preamble
		}
		// The line end before the delimiter that ended the previous part.
		if bytes.Equal(line, pr.nl) {
			expectNewPart = true
			continue
		}
		return nil, fmt.Errorf("multipart: unexpected line after a part: %q", line)
	}
}

// readLine consumes and returns the next line, with its "\n". It is valid until the
// next read. At the end of the body it returns the rest and src's error (io.EOF when
// the body simply ends).
func (pr *partReader) readLine() ([]byte, error) {
	for scanned := 0; ; {
		b := pr.buf[pr.r:pr.w]
		if i := bytes.IndexByte(b[scanned:], '\n'); i >= 0 {
			pr.r += scanned + i + 1
			return b[:scanned+i+1], nil
		}
		scanned = len(b)
		switch {
		case pr.err == io.EOF:
			pr.r = pr.w
			return b, io.EOF
		case pr.err != nil:
			return nil, fmt.Errorf("multipart: reading the body: %w", pr.err)
		case len(b) == len(pr.buf):
			return nil, fmt.Errorf("multipart: a line before a boundary is over %d bytes", len(pr.buf))
		}
		pr.fill(false)
	}
}

// isFinalBoundary reports whether line is `--boundary--[ \t]*(\r\n)?`.
func (pr *partReader) isFinalBoundary(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, pr.dashBoundaryDash)
	if !ok {
		return false
	}
	rest = skipLWSP(rest)
	return len(rest) == 0 || bytes.Equal(rest, pr.nl)
}

// isBoundaryDelimiterLine reports whether line is `--boundary[ \t]*` and a line end.
// The first one decides the line end: a bare "\n" there switches the reader to LF
// line endings, which RFC 2046 does not allow but some clients send.
func (pr *partReader) isBoundaryDelimiterLine(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, pr.dashBoundary)
	if !ok {
		return false
	}
	rest = skipLWSP(rest)
	if pr.partsRead == 0 && len(rest) == 1 && rest[0] == '\n' {
		pr.nl = pr.nl[1:]
		pr.nlDashBoundary = pr.nlDashBoundary[1:]
	}
	return bytes.Equal(rest, pr.nl)
}

// skipLWSP returns b without its leading spaces and tabs.
func skipLWSP(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// newPart reads the header block of a part, which follows its boundary line.
func (pr *partReader) newPart() (*formPart, error) {
	h, err := pr.readHeader()
	if err != nil {
		return nil, err
	}
	p := &formPart{Header: h, pr: pr}
	const cte = "Content-Transfer-Encoding"
	if strings.EqualFold(h.Get(cte), "quoted-printable") {
		h.Del(cte)
		p.qp = quotedprintable.NewReader(rawPart{p})
	}
	return p, nil
}

// readHeader consumes a part's header block, up to and including the empty line
// that ends it, and parses it with net/textproto as mime/multipart does.
func (pr *partReader) readHeader() (textproto.MIMEHeader, error) {
	for scanned := 0; ; {
		b := pr.buf[pr.r:pr.w]
		end, next := headerEnd(b, scanned)
		switch {
		case end > maxPartHeader || end < 0 && len(b) > maxPartHeader:
			return nil, errPartHeaderLarge
		case end >= 0:
			pr.r += end
			return pr.parseHeader(b[:end])
		case pr.err == io.EOF:
			return nil, errHeaderTruncated
		case pr.err != nil:
			return nil, fmt.Errorf("multipart: reading a part header: %w", pr.err)
		case len(b) == len(pr.buf):
			return nil, errPartHeaderLarge
		}
		scanned = next
		pr.fill(false)
	}
}

// headerEnd returns the length of the header block at the start of b, up to and
// including the empty line ("\n" or "\r\n") that ends it, or -1 and the offset from
// which to look again once more is read.
func headerEnd(b []byte, from int) (end, next int) {
	if from == 0 {
		switch {
		case len(b) == 0 || len(b) == 1 && b[0] == '\r':
			return -1, 0
		case b[0] == '\n':
			return 1, 0
		case b[0] == '\r' && b[1] == '\n':
			return 2, 0
		}
	}
	for {
		i := bytes.IndexByte(b[from:], '\n')
		if i < 0 {
			return -1, len(b)
		}
		i += from
		switch {
		case i+1 == len(b) || i+2 == len(b) && b[i+1] == '\r':
			return -1, i // the line after this one is not all here
		case b[i+1] == '\n':
			return i + 2, 0
		case b[i+1] == '\r' && b[i+2] == '\n':
			return i + 3, 0
		}
		from = i + 1
	}
}

// parseHeader parses a header block that ends in its empty line.
func (pr *partReader) parseHeader(block []byte) (textproto.MIMEHeader, error) {
	if pr.hbuf == nil {
		pr.hbody = bytes.NewReader(nil)
		pr.hbuf = bufio.NewReader(pr.hbody)
	}
	pr.hbody.Reset(block)
	pr.hbuf.Reset(pr.hbody)
	h, err := textproto.NewReader(pr.hbuf).ReadMIMEHeader()
	if err != nil {
		return nil, fmt.Errorf("multipart: part header: %w", err)
	}
	n := 0
	for _, v := range h {
		n += len(v)
	}
	if n > maxPartHeaders {
		return nil, errPartHeaderLarge
	}
	return h, nil
}

// formPart is one part of a multipart body. Its data is read with Read or WriteTo,
// until NextPart is called again.
type formPart struct {
	// Header holds the part's headers, keys canonicalized as by net/textproto.
	Header textproto.MIMEHeader

	pr    *partReader
	n     int       // bytes at pr.buf[pr.r:] known to be data of this part
	total int64     // bytes of data consumed so far
	err   error     // what to return once the n bytes are consumed: io.EOF at the delimiter
	qp    io.Reader // the quoted-printable decoder, for a part so encoded
}

// more makes at least one byte of data available in p.n, or sets p.err: the
// delimiter was reached, or the body ended or failed. With full, a fill reads until
// the buffer is full.
func (p *formPart) more(full bool) {
	pr := p.pr
	for p.n == 0 && p.err == nil {
		p.n, p.err = pr.scan(pr.buf[pr.r:pr.w], p.total)
		if p.n == 0 && p.err == nil {
			pr.fill(full)
		}
	}
}

// consume marks n bytes of data read.
func (p *formPart) consume(n int) {
	p.pr.r += n
	p.n -= n
	p.total += int64(n)
}

// Read reads the part's data, decoded if it is quoted-printable.
func (p *formPart) Read(b []byte) (int, error) {
	if p.qp != nil {
		return p.qp.Read(b)
	}
	return p.readRaw(b)
}

// readRaw reads the part's data as sent: received straight into a large b when
// nothing of the part is buffered (readDirect), else copied out of the buffer.
func (p *formPart) readRaw(b []byte) (int, error) {
	if n, ok := p.readDirect(b); ok {
		return n, p.err
	}
	p.more(false)
	if p.n == 0 {
		return 0, p.err
	}
	n := copy(b, p.pr.buf[p.pr.r:p.pr.r+p.n])
	p.consume(n)
	if p.n == 0 {
		return n, p.err
	}
	return n, nil
}

// directMin is the smallest read that readDirect serves: for a smaller one, a copy
// out of the buffer costs less than a receive of its own.
const directMin = 64 << 10

// readDirect receives the next bytes of the body straight into b and returns how many
// are data of the part, keeping the rest (a delimiter and what follows it, or what may
// start one) in the reader's buffer, where the next scan finds them. A caller reading
// into memory of its own (vfs.Writer.ReadFrom reads into the hash's buffers) so gets
// the data without the copy out of the buffer that Read and WriteTo make. ok is false,
// and nothing consumed, when b is small, more than a few bytes are buffered, the body
// has ended or failed, or no byte of data came; the buffered path then goes on.
func (p *formPart) readDirect(b []byte) (n int, ok bool) {
	pr := p.pr
	held := pr.w - pr.r // left unscanned: at most the start of a possible delimiter
	limit := min(len(b), len(pr.buf))
	if len(b) < directMin || p.n > 0 || p.err != nil || pr.err != nil || held >= directMin || held >= limit {
		return 0, false
	}
	if held > 0 { // the buffered path hands on what is buffered, if it can, unread
		if p.n, p.err = pr.scan(pr.buf[pr.r:pr.w], p.total); p.n > 0 || p.err != nil {
			return 0, false
		}
	}
	m := copy(b, pr.buf[pr.r:pr.w])
	k, err := pr.src.Read(b[m:limit])
	m += max(k, 0)
	if err != nil {
		pr.err = err
	}
	n, serr := pr.scan(b[:m], p.total)
	pr.r, pr.w = 0, copy(pr.buf, b[n:m])
	if n == 0 {
		return 0, false
	}
	p.total += int64(n)
	p.err = serr
	return n, true
}

// rawPart reads the undecoded data of a part.
type rawPart struct{ p *formPart }

// Read reads the part's data as sent.
func (r rawPart) Read(b []byte) (int, error) { return r.p.readRaw(b) }

// WriteTo writes the part's data to w, passing slices of the reader's buffer: w must
// not keep them after Write returns, as io.Writer requires.
func (p *formPart) WriteTo(w io.Writer) (int64, error) {
	if p.qp != nil {
		return p.copyDecoded(w)
	}
	var written int64
	for {
		p.more(true)
		if p.n > 0 {
			pr := p.pr
			m, err := w.Write(pr.buf[pr.r : pr.r+p.n])
			if m < 0 || m > p.n {
				m, err = 0, fmt.Errorf("multipart: invalid count %d from Write", m)
			}
			written += int64(m)
			short := m < p.n
			p.consume(m)
			if err != nil {
				return written, err
			}
			if short {
				return written, io.ErrShortWrite
			}
		}
		if p.n == 0 && p.err != nil {
			if p.err == io.EOF {
				return written, nil
			}
			return written, p.err
		}
	}
}

// copyDecoded writes the decoded data of a quoted-printable part to w. Unlike
// iobuf.Copy, it reports a body that ends early (io.ErrUnexpectedEOF) as an error.
func (p *formPart) copyDecoded(w io.Writer) (int64, error) {
	buf := iobuf.Get()
	defer iobuf.Put(buf)
	var written int64
	for {
		n, rerr := p.qp.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			if m < 0 || m > n {
				m, werr = 0, fmt.Errorf("multipart: invalid count %d from Write", m)
			}
			written += int64(m)
			if werr != nil {
				return written, werr
			}
			if m < n {
				return written, io.ErrShortWrite
			}
		}
		if rerr == io.EOF {
			return written, nil
		}
		if rerr != nil {
			return written, rerr
		}
	}
}

// discard skips what is left of the part's data, undecoded.
func (p *formPart) discard() error {
	for {
		p.more(true)
		p.consume(p.n)
		if p.err == io.EOF {
			return nil
		}
		if p.err != nil {
			return p.err
		}
	}
}

// scan reports how many bytes at the start of b, the unconsumed bytes of a part's
// data, are certainly data, and the error to return once those are consumed: io.EOF
// when the delimiter follows them, another error when the body ended or failed first.
// It returns 0, nil when it cannot tell without more of the body. total is how much
// of the part was consumed before b: at the start of a part, the delimiter may come
// without its line end, which the empty line ending the headers took.
//
// This is mime/multipart's scanUntilBoundary, with the partial delimiter at the end
// looked for in the last len(delimiter)-1 bytes only.
func (pr *partReader) scan(b []byte, total int64) (int, error) {
	readErr := pr.readErr()
	if total == 0 {
		if bytes.HasPrefix(b, pr.dashBoundary) {
			switch matchAfterPrefix(b, pr.dashBoundary, readErr != nil) {
			case -1:
				return len(pr.dashBoundary), nil
			case 0:
				return 0, nil
			case +1:
				return 0, io.EOF
			}
		}
		if bytes.HasPrefix(pr.dashBoundary, b) {
			return 0, readErr
		}
	}
	delim := pr.nlDashBoundary
	if i := bytes.Index(b, delim); i >= 0 {
		switch matchAfterPrefix(b[i:], delim, readErr != nil) {
		case -1:
			return i + len(delim), nil
		case 0:
			return i, nil
		case +1:
			return i, io.EOF
		}
	}
	if bytes.HasPrefix(delim, b) {
		return 0, readErr
	}
	// A delimiter may start in the last len(delim)-1 bytes and end in bytes not read
	// yet. The boundary holds no line break, so only the last line break there can
	// start one.
	from := max(0, len(b)-len(delim)+1)
	if i := bytes.LastIndexByte(b[from:], delim[0]); i >= 0 && bytes.HasPrefix(delim, b[from+i:]) {
		return from + i, nil
	}
	return len(b), readErr
}

// matchAfterPrefix reports whether b, which starts with a delimiter prefix, is a
// delimiter: +1 if prefix is followed by "--", a space, a tab, a line end or the end
// of the body (atEnd), -1 if by anything else, 0 if more must be read to tell.
func matchAfterPrefix(b, prefix []byte, atEnd bool) int {
	if len(b) == len(prefix) {
		if atEnd {
			return +1
		}
		return 0
	}
	switch c := b[len(prefix)]; c {
	case ' ', '\t', '\r', '\n':
		return +1
	case '-':
		if len(b) == len(prefix)+1 {
			if atEnd {
				return -1
			}
			return 0
		}
		if b[len(prefix)+1] == '-' {
			return +1
		}
	}
	return -1
}
