package httpapi_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/filegate/filegate/core/config"
	"github.com/filegate/filegate/core/gateway/gatewaytest"
)

// postUpload sends body as a multipart upload with boundary and returns the status
// and the error message.
func postUpload(t *testing.T, e *gatewaytest.Env, boundary string, body []byte) (int, string) {
	t.Helper()
	return e.PostUpload("multipart/form-data; boundary="+boundary, bytes.NewReader(body))
}

// filePart is a file part of a multipart body with boundary "b".
func filePart(field, name string, data []byte) string {
	return "--b\r\nContent-Disposition: form-data; name=\"" + field + "\"; filename=\"" + name + "\"\r\n" +
		"Content-Type: application/octet-stream\r\n\r\n" + string(data) + "\r\n"
}

// assertStorageEmpty checks that nothing, not even a temporary file, was written.
func assertStorageEmpty(t *testing.T, e *gatewaytest.Env) {
	t.Helper()
	entries, _ := os.ReadDir(storageDir(e))
	for _, en := range entries {
		t.Errorf("storage holds %s", en.Name())
	}
	if spooled, _ := os.ReadDir(filepath.Join(e.Dir, "data", "spool")); len(spooled) > 0 {
		t.Errorf("%d spooled parts left behind", len(spooled))
	}
}

// TestUploadMalformedBodyWritesNothing sends uploads whose multipart body is cut short
// or malformed after a complete file part, in memory (small) and streamed (over
// fasthttp's 4 MiB body limit): each is refused with 400 and nothing is stored.
func TestUploadMalformedBodyWritesNothing(t *testing.T) {
	e := gatewaytest.Start(t, "", nil)
	for _, size := range []int{1000, 5 << 20} {
		data := randomBytes(size)
		first := filePart("f1", "first.bin", data)
		meta := "--b\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\n{\"overwrite\":true}\r\n"
		for _, c := range []struct{ name, body, says string }{
			{"no closing boundary", first, "body ends before the closing boundary"},
			{"second file truncated", first + filePart("f2", "second.bin", data)[:200], "upload interrupted"},
			{"truncated in the first file", first[:len(first)-100], "upload interrupted"},
			{"truncated in the first file after meta", meta + first[:len(first)-100], "upload interrupted"},
			// mime/multipart took this for the end of the body and stored first.bin.
			{"truncated in a part header", first + "--b\r\nContent-Disposition: form-data; na", "ends in a part header"},
			{"garbage after a part", first + "--b\rX\n--b--\r\n", "want a boundary"},
			{"header too large", first + "--b\r\nX-Big: " + strings.Repeat("x", 70<<10) + "\r\n\r\n\r\n--b--\r\n", "part header is over"},
			{"malformed header", first + "--b\r\nNo colon\r\n\r\n\r\n--b--\r\n", "malformed MIME header"},
		} {
			status, msg := postUpload(t, e, "b", []byte(c.body))
			if status != 400 || !strings.Contains(msg, c.says) {
				t.Errorf("%s (%d bytes): %d %q, want 400 saying %q", c.name, size, status, msg, c.says)
			}
			assertStorageEmpty(t, e)
		}
	}
	// The same body, complete, is stored.
	data := randomBytes(5 << 20)
	if status, msg := postUpload(t, e, "b", []byte(filePart("f1", "first.bin", data)+"--b--\r\n")); status != 201 {
		t.Fatalf("complete upload: %d %s", status, msg)
	}
	if got, _ := os.ReadFile(filepath.Join(storageDir(e), "first.bin")); !bytes.Equal(got, data) {
		t.Fatal("stored bytes differ")
	}
}

// TestUploadLimitStreamed checks max_upload on a streamed part, which is written
// straight from the body reader's buffer: a file of exactly the limit is stored, one
// byte more is refused with 413 and nothing is written.
func TestUploadLimitStreamed(t *testing.T) {
	const limit = 5<<20 + 7
	e := gatewaytest.Start(t, "", func(c *config.Config) { c.HTTP.MaxUpload = limit })
	over := randomBytes(limit + 1)
	status, msg := postUpload(t, e, "b", []byte(filePart("f", "over.bin", over)+"--b--\r\n"))
	if status != 413 {
		t.Fatalf("upload of limit+1 bytes: %d %s, want 413", status, msg)
	}
	assertStorageEmpty(t, e)
	if status, msg := postUpload(t, e, "b", []byte(filePart("f", "at.bin", over[:limit])+"--b--\r\n")); status != 201 {
		t.Fatalf("upload of the limit: %d %s, want 201", status, msg)
	}
	if got, _ := os.ReadFile(filepath.Join(storageDir(e), "at.bin")); !bytes.Equal(got, over[:limit]) {
		t.Fatal("stored bytes differ")
	}
}

// TestUploadPreambleLFAndQuotedPrintable sends what browsers and curl do not but
// mime/multipart accepted: a preamble, LF line endings, transport padding, a
// quoted-printable part and an epilogue.
func TestUploadPreambleLFAndQuotedPrintable(t *testing.T) {
	e := gatewaytest.Start(t, "", nil)
	body := "preamble line\n--b \t\n" +
		"Content-Disposition: form-data; name=\"meta\"\n\n" +
		`{"files":[{"field":"q","path":"/qp.txt"}]}` + "\n--b\n" +
		"Content-Disposition: form-data; name=\"f\"; filename=\"lf.txt\"\n\nline\r\n--b\n" +
		"Content-Disposition: form-data; name=\"q\"; filename=\"x.txt\"\nContent-Transfer-Encoding: quoted-printable\n\n" +
		"caf=C3=A9 =3D ok\n--b--\nepilogue"
	if status, msg := postUpload(t, e, "b", []byte(body)); status != 201 {
		t.Fatalf("upload: %d %s", status, msg)
	}
	for name, want := range map[string]string{"lf.txt": "line\r", "qp.txt": "café = ok"} {
		if got, _ := os.ReadFile(filepath.Join(storageDir(e), name)); string(got) != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}
