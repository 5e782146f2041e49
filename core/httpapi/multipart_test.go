package httpapi

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// readPart is what a reader of multipart bodies gave for one part.
type readPart struct {
	Header         textproto.MIMEHeader
	Name, FileName string
	Data           []byte
	Skipped        bool // NextPart was called without reading the data
}

// readResult is what a reader gave for a whole body: the parts read in full, and
// the error that stopped it (nil when it reached the closing boundary).
type readResult struct {
	Parts []readPart
	Err   error
	// Diverged is set when mime/multipart's Close of a skipped part stopped at a
	// quoted-printable coding error: it then goes on reading lines from the middle of
	// the part, where partReader skips the raw part to its delimiter.
	Diverged bool
}

// readMode is how a fuzz case reads: bit i of skip skips part i; chunk bounds the
// reads of the body (0: no bound); atEOF returns the last bytes with io.EOF;
// useRead reads part data with Read through a buffer of readSize bytes, not WriteTo;
// a readSize of directMin or more takes formPart's direct reads.
type readMode struct {
	skip     uint8
	chunk    int
	atEOF    bool
	useRead  bool
	readSize int
}

func modeOf(flags uint16) readMode {
	m := readMode{
		skip:     uint8(flags),
		chunk:    int(flags>>8) & 0x1f,
		atEOF:    flags&(1<<13) != 0,
		useRead:  flags&(1<<14) != 0,
		readSize: 1 + int(flags>>8)&0x7,
	}
	if flags&(1<<15) != 0 {
		m.readSize += directMin
	}
	return m
}

// formNames returns a part's form name and file name the way mime/multipart.Part's
// FormName and FileName do.
func formNames(h textproto.MIMEHeader) (name, filename string) {
	d, params, err := mime.ParseMediaType(h.Get("Content-Disposition"))
	if err != nil {
		return "", ""
	}
	if d == "form-data" {
		name = params["name"]
	}
	if f := params["filename"]; f != "" {
		filename = filepath.Base(f)
	}
	return name, filename
}

// readWithMime reads body with mime/multipart, the reference.
func readWithMime(body []byte, boundary string, m readMode) readResult {
	var res readResult
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for i := 0; ; i++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			return res
		}
		if err != nil {
			res.Err = err
			return res
		}
		rp := readPart{Header: p.Header, Name: p.FormName(), FileName: p.FileName()}
		if i < 8 && m.skip&(1<<i) != 0 {
			rp.Skipped = true
			if _, err := io.Copy(io.Discard, p); err != nil && strings.HasPrefix(err.Error(), "quotedprintable:") {
				res.Diverged = true
				return res
			}
		} else if rp.Data, err = io.ReadAll(p); err != nil {
			res.Err = err
			return res
		}
		res.Parts = append(res.Parts, rp)
	}
}

// chunkReader returns at most n bytes per Read, and with atEOF, io.EOF together with
// the last bytes.
type chunkReader struct {
	b     []byte
	n     int
	atEOF bool
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	if r.n > 0 && len(p) > r.n {
		p = p[:r.n]
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	if r.atEOF && len(r.b) == 0 {
		return n, io.EOF
	}
	return n, nil
}

// readWithPartReader reads body with partReader over a buffer of bufSize bytes (0:
// the body in memory).
func readWithPartReader(body []byte, boundary string, m readMode, bufSize int) readResult {
	var res readResult
	var pr *partReader
	var err error
	if bufSize == 0 {
		pr, err = newPartReaderBytes(body, boundary)
	} else {
		pr, err = newPartReaderBuffer(&chunkReader{b: body, n: m.chunk, atEOF: m.atEOF}, boundary, make([]byte, bufSize))
	}
	if err != nil {
		res.Err = err
		return res
	}
	defer pr.release()
	for i := 0; ; i++ {
		p, err := pr.NextPart()
		if err == io.EOF {
			if _, err := pr.NextPart(); err != io.EOF {
				res.Err = fmt.Errorf("NextPart after the end: %v, want io.EOF", err)
			}
			return res
		}
		if err != nil {
			res.Err = err
			return res
		}
		rp := readPart{Header: p.Header}
		rp.Name, rp.FileName = formNames(p.Header)
		switch {
		case i < 8 && m.skip&(1<<i) != 0:
			rp.Skipped = true
		case m.useRead:
			var data bytes.Buffer
			buf := make([]byte, m.readSize)
			for {
				n, err := p.Read(buf)
				data.Write(buf[:n])
				if err == io.EOF {
					break
				}
				if err != nil {
					res.Err = err
					return res
				}
			}
			rp.Data = data.Bytes()
		default:
			var data bytes.Buffer
			if _, err := p.WriteTo(&data); err != nil {
				res.Err = err
				return res
			}
			rp.Data = data.Bytes()
		}
		if rp.Data == nil && !rp.Skipped {
			rp.Data = []byte{}
		}
		res.Parts = append(res.Parts, rp)
	}
}

// isLimitErr reports whether err is one of partReader's limits, which are not
// mime/multipart's.
func isLimitErr(err error) bool {
	return errors.Is(err, errPartHeaderLarge) || err != nil && strings.Contains(err.Error(), "a line before a boundary is over")
}

// comparePartReader checks partReader against mime/multipart on one body.
func comparePartReader(t *testing.T, body []byte, boundary string, flags uint16) {
	t.Helper()
	m := modeOf(flags)
	want := readWithMime(body, boundary, m)
	for _, bufSize := range []int{0, 64 << 10, 2*len(boundary) + 16 + int(flags>>9)%97} {
		got := readWithPartReader(body, boundary, m, bufSize)
		if boundary == "" || len(boundary) > maxBoundary || strings.ContainsAny(boundary, "\r\n") {
			if got.Err == nil || len(got.Parts) > 0 {
				t.Fatalf("boundary %q accepted", boundary)
			}
			continue
		}
		where := fmt.Sprintf("body %q, boundary %q, mode %+v, buffer %d", body, boundary, m, bufSize)
		// The parts both read in full are the same.
		for i := range min(len(want.Parts), len(got.Parts)) {
			w, g := want.Parts[i], got.Parts[i]
			if w.Skipped || g.Skipped {
				w.Data, g.Data = nil, nil
			}
			if w.Data == nil && !w.Skipped {
				w.Data = []byte{}
			}
			if !reflect.DeepEqual(w, g) {
				t.Fatalf("%s: part %d:\n got  %+v\n want %+v", where, i, g, w)
			}
		}
		switch {
		case want.Diverged:
		case want.Err == nil && got.Err == nil:
			if len(got.Parts) != len(want.Parts) {
				t.Fatalf("%s: %d parts, want %d", where, len(got.Parts), len(want.Parts))
			}
		case want.Err == nil && errors.Is(got.Err, errHeaderTruncated):
			// mime/multipart takes a body ending in a part header for its end.
			if len(got.Parts) != len(want.Parts) {
				t.Fatalf("%s: %d parts before the truncated header, want %d", where, len(got.Parts), len(want.Parts))
			}
		case want.Err == nil:
			if !isLimitErr(got.Err) || len(body) <= maxPartHeader && (bufSize == 0 || bufSize >= len(body)) {
				t.Fatalf("%s: error %v after %d parts; mime/multipart read %d parts", where, got.Err, len(got.Parts), len(want.Parts))
			}
		case got.Err == nil:
			// mime/multipart stops at lines over its 4 KiB buffer.
			if !errors.Is(want.Err, bufio.ErrBufferFull) {
				t.Fatalf("%s: accepted %d parts; mime/multipart failed after %d: %v", where, len(got.Parts), len(want.Parts), want.Err)
			}
		}
	}
}

// multipartSeeds are bodies for FuzzMultipart and TestPartReaderMatchesMime.
var multipartSeeds = []struct {
	body, boundary string
	flags          uint16
}{
	// curl -F meta=... -F f1=@file -F f2=@file
	{"--xyz\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\n{\"overwrite\":true}\r\n" +
		"--xyz\r\nContent-Disposition: form-data; name=\"f1\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\nworld\r\n" +
		"--xyz\r\nContent-Disposition: form-data; name=\"f2\"; filename=\"b.bin\"\r\n\r\n\x00\x01\r\n--xy\r\n--xyzz\r\n" +
		"--xyz--\r\n", "xyz", 0},
	// The same, read in reads of 1, 3 and 7 bytes: delimiters straddle reads.
	{"--xyz\r\nContent-Disposition: form-data; name=\"f1\"; filename=\"a\"\r\n\r\nab\r\n-\r\n--\r\n--x\r\n--xyz-\r\n--xyz\r\n\r\n--xyz--", "xyz", 1 << 8},
	{"--xyz\r\nContent-Disposition: form-data; name=\"f1\"; filename=\"a\"\r\n\r\nab\r\n-\r\n--\r\n--x\r\n--xyz-\r\n--xyz\r\n\r\n--xyz--", "xyz", 3<<8 | 1<<14},
	{"--xyz\r\nContent-Disposition: form-data; name=\"f1\"; filename=\"a\"\r\n\r\n" + strings.Repeat("0123456789\r\n--xy", 20) + "\r\n--xyz--\r\n", "xyz", 7<<8 | 1<<13},
	// Empty parts, a part without headers, the delimiter right after the headers.
	{"--b\r\n\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"e\"\r\n\r\n\r\n--b\r\n\r\n--b--\r\n", "b", 0},
	{"--b\r\nX: 1\r\n\r\n--b\r\n\r\n--b--", "b", 2 << 8},
	// LF line endings, which mime/multipart takes when the first boundary line has one.
	{"--b\nContent-Disposition: form-data; name=\"f\"; filename=\"x.txt\"\n\nline1\nline2\r\n--b\n\ndata\n--b--\n", "b", 0},
	{"--b\nContent-Disposition: form-data; name=\"f\"\n\nx\n--b--", "b", 1 << 8},
	// Preamble and epilogue; transport padding after boundaries.
	{"This is a preamble.\r\n--b is not it\r\n--bb\r\n--b \t\r\nContent-Disposition: form-data; name=\"f\"; filename=\"p.txt\"\r\n\r\nbody\r\n--b\t \r\n\r\nsecond\r\n--b-- \t\r\nepilogue\r\n--b\r\nignored", "b", 0},
	// Quoted-printable, read and skipped.
	{"--b\r\nContent-Transfer-Encoding: quoted-printable\r\nContent-Disposition: form-data; name=\"q\"\r\n\r\nfoo=3Dbar=\r\nbaz\r\n--b--\r\n", "b", 0},
	{"--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nbad=ZZ\r\n--b\r\n\r\nx\r\n--b--\r\n", "b", 1},
	// Skipped parts.
	{"--b\r\n\r\nskip me\r\n--b\r\n\r\nkeep\r\n--b\r\n\r\nskip\r\n--b--\r\n", "b", 0b101},
	// Malformed: no closing boundary, truncated in a part, a header or a delimiter;
	// garbage after a part; bad header lines; an empty body.
	{"--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"t\"\r\n\r\ndata\r\n", "b", 0},
	{"--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"t\"\r\n\r\ndata", "b", 0},
	{"--b\r\nContent-Disposition: form-da", "b", 0},
	{"--b\r\n\r\ndata\r\n--b-", "b", 0},
	{"--b\r\n\r\ndata\r\n--b", "b", 0},
	{"--b\r\n\r\ndata\r\n--bX\r\n--b\rX\n--b--", "b", 0},
	{"--b\r\n\r\ndata\r\n--b \r\nX\r\n", "b", 0},
	{"--b\r\n\r\ndata\r\n--b--garbage\r\n", "b", 0},
	{"--b\r\n No-Colon\r\n\r\n\r\n--b--", "b", 0},
	{"--b\r\nBad Key: v\r\n\r\n\r\n--b--", "b", 0},
	{"", "b", 0},
	{"--b--", "b", 0},
	// Boundaries partReader refuses.
	{"--\r\n\r\n\r\n----", "", 0},
	{"--a\rb\r\n\r\nx\r\n--a\rb--", "a\rb", 0},
}

func TestPartReaderMatchesMime(t *testing.T) {
	for _, s := range multipartSeeds {
		for _, flags := range []uint16{s.flags, s.flags | 1<<14, s.flags | 1<<8, s.flags | 3<<8 | 1<<13, s.flags | 1<<15 | 1<<14, s.flags | 1<<15 | 1<<14 | 3<<8} {
			comparePartReader(t, []byte(s.body), s.boundary, flags)
		}
	}
}

// FuzzMultipart checks partReader against mime/multipart on any body, boundary and
// way of reading: where mime/multipart reads a body, partReader reads the same parts
// (headers, form and file names, bytes); where mime/multipart refuses one,
// partReader does too, except past the limits on lines that only mime/multipart has.
func FuzzMultipart(f *testing.F) {
	for _, s := range multipartSeeds {
		f.Add([]byte(s.body), s.boundary, s.flags)
	}
	f.Fuzz(func(t *testing.T, body []byte, boundary string, flags uint16) {
		comparePartReader(t, body, boundary, flags)
	})
}

// readAll reads every part of body with WriteTo and returns the data of each and the
// first error, from NextPart or WriteTo.
func readAll(pr *partReader) ([][]byte, error) {
	var parts [][]byte
	for {
		p, err := pr.NextPart()
		if err == io.EOF {
			return parts, nil
		}
		if err != nil {
			return parts, err
		}
		var data bytes.Buffer
		if _, err := p.WriteTo(&data); err != nil {
			return parts, err
		}
		parts = append(parts, data.Bytes())
	}
}

// errReader returns its bytes, then err.
type errReader struct {
	b   []byte
	err error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, r.err
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func TestPartReaderErrors(t *testing.T) {
	const part = "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\n"
	reset := errors.New("connection reset by peer")
	bigHeader := "--b\r\nX-Big: " + strings.Repeat("x", maxPartHeader) + "\r\n\r\ndata\r\n--b--\r\n"
	manyHeaders := "--b\r\n" + strings.Repeat("A: b\r\n", maxPartHeaders+1) + "\r\ndata\r\n--b--\r\n"
	for _, c := range []struct {
		name, body, boundary string
		src                  io.Reader // instead of body
		bufSize              int       // 0: newPartReader's
		want                 error     // errors.Is
		wantText             string    // or in the message
	}{
		{name: "no closing boundary", body: part + "data\r\n", want: io.ErrUnexpectedEOF},
		{name: "no closing boundary after a line end", body: part + "data\r\n--b\r\n", want: errHeaderTruncated},
		{name: "truncated in the data", body: part + "da", want: io.ErrUnexpectedEOF},
		{name: "truncated in a delimiter", body: part + "data\r\n--", want: io.ErrUnexpectedEOF},
		{name: "truncated after a delimiter", body: part + "data\r\n--b", want: io.ErrUnexpectedEOF},
		{name: "truncated in a header", body: part + "data\r\n--b\r\nContent-Dispo", want: errHeaderTruncated},
		{name: "truncated before the first boundary", body: "preamble\r\n--b", want: io.ErrUnexpectedEOF},
		{name: "empty body", body: "", want: io.ErrUnexpectedEOF},
		{name: "header too large", body: bigHeader, want: errPartHeaderLarge},
		{name: "header too large in memory", body: bigHeader, bufSize: -1, want: errPartHeaderLarge},
		{name: "too many header lines", body: manyHeaders, want: errPartHeaderLarge},
		{name: "header over a small buffer", body: part + "x\r\n--b--", bufSize: 40, want: errPartHeaderLarge},
		{name: "preamble line over the buffer", body: strings.Repeat("p", 100) + "\r\n" + part + "x\r\n--b--", bufSize: 40, wantText: "a line before a boundary is over 40 bytes"},
		{name: "malformed header", body: "--b\r\nNo colon\r\n\r\nx\r\n--b--", wantText: "malformed MIME header"},
		{name: "garbage after a part", body: part + "data\r\n--b\rX\n--b--", wantText: "want a boundary"},
		{name: "garbage after the closing delimiter", body: part + "data\r\n--b--x\r\n", wantText: "want a boundary"},
		{name: "read error", src: &errReader{[]byte(part + "data"), reset}, want: reset},
		{name: "read error in a header", src: &errReader{[]byte(part[:20]), reset}, want: reset},
		{name: "read error before the first boundary", src: &errReader{[]byte("pre"), reset}, want: reset},
		{name: "no progress", src: &errReader{[]byte(part + "data"), nil}, want: io.ErrNoProgress},
		{name: "empty boundary", body: "--\r\n\r\nx\r\n----", boundary: "-", wantText: "boundary is empty"},
		{name: "boundary with a line break", body: "--a\nb\r\n\r\n", boundary: "a\nb", wantText: "contains a line break"},
		{name: "boundary too long", body: "--x\r\n", boundary: strings.Repeat("x", maxBoundary+1), wantText: "over the limit"},
	} {
		t.Run(c.name, func(t *testing.T) {
			boundary := cmp.Or(c.boundary, "b")
			if boundary == "-" {
				boundary = ""
			}
			src := c.src
			if src == nil {
				src = strings.NewReader(c.body)
			}
			var pr *partReader
			var err error
			switch {
			case c.bufSize < 0:
				pr, err = newPartReaderBytes([]byte(c.body), boundary)
			case c.bufSize > 0:
				pr, err = newPartReaderBuffer(src, boundary, make([]byte, c.bufSize))
			default:
				pr, err = newPartReader(src, boundary)
			}
			if err == nil {
				defer pr.release()
				_, err = readAll(pr)
			}
			switch {
			case err == nil:
				t.Fatal("no error")
			case c.want != nil && !errors.Is(err, c.want):
				t.Fatalf("error %q, want %q", err, c.want)
			case !strings.Contains(err.Error(), c.wantText):
				t.Fatalf("error %q, want it to say %q", err, c.wantText)
			case !strings.HasPrefix(err.Error(), "multipart: ") && !errors.Is(err, reset) && err != io.ErrNoProgress:
				t.Fatalf("error %q says nothing of multipart", err)
			}
			if pr != nil {
				if _, again := pr.NextPart(); again != err {
					t.Fatalf("NextPart after %q: %v", err, again)
				}
			}
		})
	}
}

// recordWriter keeps what is written to it, and whether each slice it was given was
// one of buf.
type recordWriter struct {
	buf    []byte
	data   []byte
	sizes  []int
	copied bool // a slice was not one of buf
}

func (w *recordWriter) Write(p []byte) (int, error) {
	// A slice of buf[r:] has the capacity len(buf)-r.
	if len(p) > 0 && (cap(p) > len(w.buf) || &p[0] != &w.buf[len(w.buf)-cap(p)]) {
		w.copied = true
	}
	w.data = append(w.data, p...)
	w.sizes = append(w.sizes, len(p))
	return len(p), nil
}

// TestPartWriteToPassesBuffer checks that WriteTo hands the writer slices of the
// reader's own buffer, without a copy, in chunks close to the buffer's size.
func TestPartWriteToPassesBuffer(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef\r\n--bound\r"), 3<<20/27)
	body := "--boundary\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\n" + string(data) + "\r\n--boundary--\r\n"
	// 16 KiB reads, as from fasthttp's buffered connection.
	pr, err := newPartReader(&chunkReader{b: []byte(body), n: 16 << 10}, "boundary")
	if err != nil {
		t.Fatal(err)
	}
	defer pr.release()
	p, err := pr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	w := recordWriter{buf: pr.buf}
	n, err := p.WriteTo(&w)
	if err != nil || n != int64(len(data)) || !bytes.Equal(w.data, data) {
		t.Fatalf("WriteTo: %d bytes, %v; want %d, and the same bytes", n, err, len(data))
	}
	if w.copied {
		t.Error("WriteTo wrote a slice that is not of the reader's buffer")
	}
	for i, size := range w.sizes {
		if i > 0 && i < len(w.sizes)-1 && size < len(w.buf)-64 {
			t.Errorf("write %d of %d: %d bytes, want about %d", i, len(w.sizes), size, len(w.buf))
		}
	}
	if _, err := pr.NextPart(); err != io.EOF {
		t.Fatalf("NextPart at the end: %v", err)
	}
}

// TestPartReaderStraddle reads large parts full of near-delimiters through buffers
// and reads of awkward sizes, so that delimiters straddle reads and buffer refills.
func TestPartReaderStraddle(t *testing.T) {
	const boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW"
	// Parts without headers, so that they fit the smallest buffer.
	var body bytes.Buffer
	var want [][]byte
	for _, size := range []int{0, 1, 1 << 20, 300_001, 5} {
		var data []byte
		for len(data) < size {
			data = append(data, "\r\n--"+boundary[:len(data)%len(boundary)]...)
			data = append(data, 0x80|byte(len(data)), '\r', '\n', '-') // never completes the boundary
		}
		data = data[:size]
		body.WriteString("--" + boundary + "\r\n\r\n")
		body.Write(data)
		body.WriteString("\r\n")
		want = append(want, data)
	}
	body.WriteString("--" + boundary + "--\r\n")
	for _, bufSize := range []int{2*len(boundary) + 16, 1000, 4097, 256 << 10} {
		for _, chunk := range []int{1, 7, 4093, 65537, 0} {
			if chunk == 1 && bufSize > 1000 {
				continue // slow, and adds nothing
			}
			pr, err := newPartReaderBuffer(&chunkReader{b: body.Bytes(), n: chunk}, boundary, make([]byte, bufSize))
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(pr)
			if err != nil {
				t.Fatalf("buffer %d, reads of %d: %v", bufSize, chunk, err)
			}
			if len(got) != len(want) {
				t.Fatalf("buffer %d, reads of %d: %d parts, want %d", bufSize, chunk, len(got), len(want))
			}
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("buffer %d, reads of %d: part %d differs (%d bytes, want %d)", bufSize, chunk, i, len(got[i]), len(want[i]))
				}
			}
		}
	}
	// mime/multipart agrees.
	mr := multipart.NewReader(bytes.NewReader(body.Bytes()), boundary)
	for i := 0; ; i++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			if i != len(want) {
				t.Fatalf("mime/multipart: %d parts", i)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if data, err := io.ReadAll(p); err != nil || !bytes.Equal(data, want[i]) {
			t.Fatalf("mime/multipart: part %d differs, %v", i, err)
		}
	}
}
