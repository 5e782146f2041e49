package httpapi_test

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/filegate/filegate/core/gateway/gatewaytest"
)

type fileEntry struct {
	Name, Path, Type string
	Size             int64
}

type cursorPage struct {
	Data       []fileEntry `json:"data"`
	NextCursor string      `json:"next_cursor"`
}

type treeItem struct {
	Path, Type, SHA256, Protocol, Account string
	Size                                  int64
}

type event struct {
	Type, Protocol, Account, Path, From, SHA256 string
	Size                                        int64
}

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (Debian package: see .ci/run)", tool)
		}
	}
}

// run runs a command and returns its stdout, failing the test on a non-zero exit.
func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s\n%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

func storageDir(e *gatewaytest.Env) string { return filepath.Join(e.Dir, "data", "storage") }

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestCurlUploadListTreeEvents(t *testing.T) {
	need(t, "curl")
	e := gatewaytest.Start(t, "", nil)
	tok := e.Token()
	work := t.TempDir()
	a, b := randomBytes(100_000), []byte("second file\n")
	os.WriteFile(filepath.Join(work, "report one.pdf"), a, 0o644)
	os.WriteFile(filepath.Join(work, "b.txt"), b, 0o644)
	out := run(t, work, "curl", "-sS", "-f", "-H", "Authorization: Bearer "+tok,
		"-F", `meta={"files":[{"field":"f1","path":"customers/2026/"},{"field":"f2","path":"/notes/renamed.txt"}]}`,
		"-F", "f1=@report one.pdf", "-F", "f2=@b.txt", e.URL+"/api/upload")
	if !strings.Contains(out, `"path":"/customers/2026/report one.pdf"`) || !strings.Contains(out, sha(a)) || !strings.Contains(out, `"path":"/notes/renamed.txt"`) {
		t.Fatalf("upload response %s", out)
	}
	if got, _ := os.ReadFile(filepath.Join(storageDir(e), "customers/2026/report one.pdf")); !bytes.Equal(got, a) {
		t.Fatal("stored bytes differ")
	}
	var files cursorPage
	e.Do("GET", "/api/list/files?path=/customers/2026", tok, nil, &files)
	if len(files.Data) != 1 || files.Data[0].Name != "report one.pdf" || files.Data[0].Size != 100_000 || files.Data[0].Type != "file" {
		t.Fatalf("list files = %+v", files)
	}
	var dirs cursorPage
	e.Do("GET", "/api/list/dirs?path=/", tok, nil, &dirs)
	if len(dirs.Data) != 2 || dirs.Data[0].Name != "customers" || dirs.Data[1].Name != "notes" {
		t.Fatalf("list dirs = %+v", dirs)
	}
	var tree struct{ Data []treeItem }
	e.Do("GET", "/api/list/tree?path=/", tok, nil, &tree)
	got := map[string]treeItem{}
	for _, it := range tree.Data {
		got[it.Path] = it
	}
	if len(tree.Data) != 5 || got["/customers/2026/report one.pdf"].SHA256 != sha(a) || got["/customers/2026/report one.pdf"].Protocol != "http" ||
		got["/customers/2026/report one.pdf"].Account != e.AccessKey || got["/customers"].Type != "dir" || got["/notes/renamed.txt"].Size != int64(len(b)) {
		t.Fatalf("tree = %+v", tree.Data)
	}
	var evs listOf[event]
	e.Do("GET", "/events?type=file.uploaded", tok, nil, &evs)
	if evs.Total != 2 || evs.Data[0].Protocol != "http" || evs.Data[1].SHA256 != sha(a) {
		t.Fatalf("events = %+v", evs)
	}
	e.Do("GET", "/events?type=dir.created", tok, nil, &evs)
	if evs.Total != 3 { // customers, customers/2026, notes
		t.Fatalf("dir.created events = %+v", evs)
	}
}

func TestUploadConflictWritesNothing(t *testing.T) {
	need(t, "curl")
	e := gatewaytest.Start(t, "", nil)
	tok := e.Token()
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "a.txt"), []byte("v1"), 0o644)
	run(t, work, "curl", "-sS", "-f", "-H", "Authorization: Bearer "+tok, "-F", "f=@a.txt", e.URL+"/api/upload")
	os.WriteFile(filepath.Join(work, "a.txt"), []byte("v2"), 0o644)
	os.WriteFile(filepath.Join(work, "new.txt"), []byte("new"), 0o644)
	// new.txt first, then the conflicting a.txt: neither may be written.
	code := run(t, work, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer "+tok, "-F", "g=@new.txt", "-F", "f=@a.txt", e.URL+"/api/upload")
	if code != "409" {
		t.Fatalf("conflicting upload: %s, want 409", code)
	}
	if got, _ := os.ReadFile(filepath.Join(storageDir(e), "a.txt")); string(got) != "v1" {
		t.Fatalf("a.txt = %q after a refused overwrite", got)
	}
	if _, err := os.Stat(filepath.Join(storageDir(e), "new.txt")); err == nil {
		t.Fatal("the other file of a refused upload was written")
	}
	assertNoTempFiles(t, storageDir(e))
	run(t, work, "curl", "-sS", "-f", "-H", "Authorization: Bearer "+tok, "-F", `meta={"overwrite":true}`, "-F", "f=@a.txt", e.URL+"/api/upload")
	if got, _ := os.ReadFile(filepath.Join(storageDir(e), "a.txt")); string(got) != "v2" {
		t.Fatalf("a.txt = %q after overwrite", got)
	}
}

func assertNoTempFiles(t *testing.T, root string) {
	t.Helper()
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.HasPrefix(fi.Name(), ".filegate-upload-") {
			t.Errorf("temporary upload left behind: %s", p)
		}
		return nil
	})
}

// multipartBody builds an upload with a raw (unchecked) filename.
func multipartBody(field, filename string, content []byte) (string, []byte) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, field, filename))
	p, _ := w.CreatePart(h)
	p.Write(content)
	w.Close()
	return w.FormDataContentType(), buf.Bytes()
}

func TestTraversalRefusedEverywhere(t *testing.T) {
	e := gatewaytest.Start(t, "", nil)
	tok := e.Token()
	os.MkdirAll(filepath.Join(e.Dir, "secret"), 0o755)
	os.WriteFile(filepath.Join(e.Dir, "secret", "x"), []byte("x"), 0o644)
	bad := []string{"../secret/x", "/../../secret", "%2e%2e/secret", "a/%2e%2e/%2e%2e/secret", `..\secret`, "a/\x00b", "/a/../../secret"}
	for _, p := range bad {
		q := "?path=" + urlQuery(p)
		for _, ep := range []string{"/api/list/files", "/api/list/dirs", "/api/list/tree", "/api/download/single"} {
			if s := e.Do("GET", ep+q, tok, nil, nil); s != 400 {
				t.Errorf("GET %s%s: %d, want 400", ep, q, s)
			}
		}
		for ep, body := range map[string]any{
			"/api/mkdir":           map[string]any{"path": p},
			"/api/delete":          map[string]any{"path": p, "recursive": true},
			"/api/move":            map[string]any{"from": p, "to": "/x"},
			"/api/download/multi":  map[string]any{"paths": []string{p}},
			"/api/move#to":         map[string]any{"from": "/", "to": p},
			"/ftpaccounts/create":  map[string]any{"Username": "tr", "Password": "StrongPassword123!", "Chroot": p},
			"/api/upload?path=bad": nil,
		} {
			if body == nil {
				continue
			}
			path, _, _ := strings.Cut(ep, "#")
			if s := e.Do("POST", path, tok, body, nil); s != 400 {
				t.Errorf("POST %s %v: %d, want 400", path, body, s)
			}
		}
		ct, mp := multipartBody("f", p, []byte("evil"))
		req, _ := http.NewRequest("POST", e.URL+"/api/upload", bytes.NewReader(mp))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("upload with filename %q: %d, want 400", p, resp.StatusCode)
		}
		ct, mp = multipartBody("f", "ok.txt", []byte("evil"))
		req, _ = http.NewRequest("POST", e.URL+"/api/upload?path="+urlQuery(p), bytes.NewReader(mp))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, _ = http.DefaultClient.Do(req)
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("upload to folder %q: %d, want 400", p, resp.StatusCode)
		}
	}
	// Nothing was written anywhere: the storage is empty and the secret untouched.
	entries, _ := os.ReadDir(storageDir(e))
	if len(entries) != 0 {
		t.Errorf("storage holds %d entries after refused requests", len(entries))
	}
	if got, _ := os.ReadFile(filepath.Join(e.Dir, "secret", "x")); string(got) != "x" {
		t.Error("a file outside the storage changed")
	}
}

func urlQuery(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '/' || c == '.' || c == '-' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func TestDownloadSingleRangeETagAndCurlResume(t *testing.T) {
	need(t, "curl")
	e := gatewaytest.Start(t, "", nil)
	tok := e.Token()
	data := randomBytes(3<<20 + 17)
	os.WriteFile(filepath.Join(storageDir(e), "big file.bin"), data, 0o644)
	resp := e.Request("GET", "/api/download/single?path=/big%20file.bin", tok, nil)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	tag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || !bytes.Equal(body, data) || resp.ContentLength != int64(len(data)) || tag == "" ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), `filename="big file.bin"`) {
		t.Fatalf("download: %d len %d etag %q disposition %q", resp.StatusCode, len(body), tag, resp.Header.Get("Content-Disposition"))
	}
	req, _ := http.NewRequest("GET", e.URL+"/api/download/single?path=/big%20file.bin", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("If-None-Match", tag)
	r2, _ := http.DefaultClient.Do(req)
	r2.Body.Close()
	if r2.StatusCode != 304 {
		t.Fatalf("If-None-Match: %d, want 304", r2.StatusCode)
	}
	req.Header.Del("If-None-Match")
	req.Header.Set("Range", "bytes=100-199")
	r3, _ := http.DefaultClient.Do(req)
	part, _ := io.ReadAll(r3.Body)
	r3.Body.Close()
	if r3.StatusCode != 206 || !bytes.Equal(part, data[100:200]) || r3.Header.Get("Content-Range") != fmt.Sprintf("bytes 100-199/%d", len(data)) {
		t.Fatalf("range: %d %q len %d", r3.StatusCode, r3.Header.Get("Content-Range"), len(part))
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-", len(data)+5))
	r4, _ := http.DefaultClient.Do(req)
	r4.Body.Close()
	if r4.StatusCode != 416 {
		t.Fatalf("unsatisfiable range: %d", r4.StatusCode)
	}
	// curl -C - resumes a partial download.
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "out.bin"), data[:1<<20], 0o644)
	run(t, work, "curl", "-sS", "-f", "-C", "-", "-o", "out.bin", "-H", "Authorization: Bearer "+tok, e.URL+"/api/download/single?path=/big%20file.bin")
	if got, _ := os.ReadFile(filepath.Join(work, "out.bin")); !bytes.Equal(got, data) {
		t.Fatalf("resumed download differs (%d bytes)", len(got))
	}
	var evs listOf[event]
	e.Do("GET", "/events?type=file.downloaded", tok, nil, &evs)
	if evs.Total < 3 || evs.Data[0].Size != int64(len(data)-(1<<20)) || evs.Data[len(evs.Data)-1].SHA256 != sha(data) {
		t.Fatalf("download events: %+v", evs)
	}
}

func TestMultiDownloadZip(t *testing.T) {
	need(t, "unzip", "curl")
	e := gatewaytest.Start(t, "", nil)
	tok := e.Token()
	root := storageDir(e)
	files := map[string][]byte{"docs/a.txt": []byte("alpha"), "docs/sub/b.bin": randomBytes(1 << 20), "c.csv": []byte("1,2,3\n")}
	for p, b := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
		os.WriteFile(filepath.Join(root, p), b, 0o644)
	}
	var prep struct{ ID string }
	if s := e.Do("POST", "/api/download/multi", tok, map[string]any{"paths": []string{"/docs", "/c.csv"}}, &prep); s != 200 || prep.ID == "" {
		t.Fatalf("prepare: %d", s)
	}
	work := t.TempDir()
	run(t, work, "curl", "-sS", "-f", "-o", "out.zip", e.URL+"/api/download/multi/"+prep.ID)
	if out := run(t, work, "unzip", "-t", "out.zip"); !strings.Contains(out, "No errors detected") {
		t.Fatalf("unzip -t: %s", out)
	}
	zr, err := zip.OpenReader(filepath.Join(work, "out.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		names = append(names, f.Name)
		rc, _ := f.Open()
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, files[f.Name]) {
			t.Errorf("%s differs in the zip", f.Name)
		}
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "c.csv,docs/a.txt,docs/sub/b.bin" {
		t.Fatalf("zip holds %v", names)
	}
	if s := e.Do("GET", "/api/download/multi/0123456789abcdef0123456789abcdef", "", nil, nil); s != 404 {
		t.Fatalf("unknown id: %d", s)
	}
	if s := e.Do("POST", "/api/download/multi", tok, map[string]any{"paths": []string{"/nope"}}, nil); s != 404 {
		t.Fatalf("missing path: %d", s)
	}
}

func TestMkdirMoveDelete(t *testing.T) {
	e := gatewaytest.Start(t, "", nil)
	tok := e.Token()
	root := storageDir(e)
	if s := e.Do("POST", "/api/mkdir", tok, map[string]string{"path": "/in/2026/11"}, nil); s != 200 {
		t.Fatalf("mkdir: %d", s)
	}
	os.WriteFile(filepath.Join(root, "in/2026/11/x.txt"), []byte("x"), 0o644)
	if s := e.Do("POST", "/api/mkdir", tok, map[string]string{"path": "/archive"}, nil); s != 200 {
		t.Fatalf("mkdir: %d", s)
	}
	if s := e.Do("POST", "/api/move", tok, map[string]string{"from": "/in/2026/11/x.txt", "to": "/archive/"}, nil); s != 200 {
		t.Fatalf("move file into folder: %d", s)
	}
	if _, err := os.Stat(filepath.Join(root, "archive/x.txt")); err != nil {
		t.Fatal("file not moved")
	}
	if s := e.Do("POST", "/api/move", tok, map[string]string{"from": "/in", "to": "/archive/in-2026"}, nil); s != 200 {
		t.Fatalf("move folder: %d", s)
	}
	if _, err := os.Stat(filepath.Join(root, "archive/in-2026/2026/11")); err != nil {
		t.Fatal("folder not moved")
	}
	var er apiErr
	if s := e.Do("POST", "/api/delete", tok, map[string]any{"path": "/archive"}, &er); s != 409 || !strings.Contains(er.Error, "recursive") {
		t.Fatalf("delete non-empty without recursive: %d %q", s, er.Error)
	}
	if s := e.Do("POST", "/api/move", tok, map[string]string{"from": "/nope", "to": "/x"}, nil); s != 404 {
		t.Fatalf("move missing: %d", s)
	}
	if s := e.Do("POST", "/api/delete", tok, map[string]any{"path": "/archive", "recursive": true}, nil); s != 200 {
		t.Fatalf("recursive delete: %d", s)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Fatalf("storage not empty: %v", entries)
	}
	var evs listOf[event]
	e.Do("GET", "/events?limit=100", tok, nil, &evs)
	count := map[string]int{}
	for _, ev := range evs.Data {
		count[ev.Type]++
	}
	if count["file.moved"] != 2 || count["file.deleted"] != 1 || count["dir.deleted"] < 4 || count["dir.created"] != 4 {
		t.Fatalf("event counts %v", count)
	}
	var tree struct{ Data []treeItem }
	e.Do("GET", "/api/list/tree", tok, nil, &tree)
	if len(tree.Data) != 0 {
		t.Fatalf("tree after deleting everything: %+v", tree.Data)
	}
}

func TestScopesAndPathPrefixConfineStorage(t *testing.T) {
	need(t, "curl")
	e := gatewaytest.Start(t, "", nil)
	admin := e.Token()
	root := storageDir(e)
	os.MkdirAll(filepath.Join(root, "reports"), 0o755)
	os.WriteFile(filepath.Join(root, "reports/q1.txt"), []byte("q1"), 0o644)
	os.WriteFile(filepath.Join(root, "private.txt"), []byte("p"), 0o644)

	ak, sk := createKey(t, e, admin, map[string]any{"Scopes": []string{"file.list", "file.read"}, "PathPrefix": "/reports"})
	tok := e.Auth(e.AssociationKey, ak, sk)
	var files cursorPage
	e.Do("GET", "/api/list/files", tok, nil, &files)
	if len(files.Data) != 1 || files.Data[0].Path != "/q1.txt" {
		t.Fatalf("confined listing = %+v", files.Data)
	}
	resp := e.Request("GET", "/api/download/single?path=/q1.txt", tok, nil)
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != "q1" {
		t.Fatalf("confined download = %q", got)
	}
	var nf apiErr
	if s := e.Do("GET", "/api/download/single?path=/private.txt", tok, nil, &nf); s != 404 {
		t.Fatalf("a file outside the prefix: %d, want 404", s)
	}
	if strings.Contains(nf.Error, "reports") || !strings.Contains(nf.Error, "/private.txt") {
		t.Fatalf("error %q: want the client's own path, never the prefix", nf.Error)
	}
	var er apiErr
	for path, scope := range map[string]string{"/api/mkdir": "file.create", "/api/delete": "file.delete", "/api/move": "file.rename", "/api/upload": "file.create"} {
		if s := e.Do("POST", path, tok, map[string]string{"path": "/x"}, &er); s != 403 || !strings.Contains(er.Error, scope) {
			t.Errorf("%s without scope: %d %q", path, s, er.Error)
		}
	}
	// The REST API key with file.create only cannot list or read.
	ak2, sk2 := createKey(t, e, admin, map[string]any{"Scopes": []string{"file.create"}})
	tok2 := e.Auth(e.AssociationKey, ak2, sk2)
	if s := e.Do("GET", "/api/list/files", tok2, nil, &er); s != 403 || !strings.Contains(er.Error, "file.list") {
		t.Fatalf("list without scope: %d %q", s, er.Error)
	}
	if s := e.Do("POST", "/api/mkdir", tok2, map[string]string{"path": "/drop"}, nil); s != 200 {
		t.Fatalf("mkdir with file.create: %d", s)
	}
}

func TestListPagination(t *testing.T) {
	e := gatewaytest.Start(t, "", nil)
	tok := e.Token()
	for i := 0; i < 25; i++ {
		os.WriteFile(filepath.Join(storageDir(e), fmt.Sprintf("f%02d.txt", i)), nil, 0o644)
	}
	os.WriteFile(filepath.Join(storageDir(e), "other.txt"), nil, 0o644)
	var all []string
	cursor := ""
	for pages := 0; ; pages++ {
		var pg cursorPage
		if s := e.Do("GET", "/api/list/files?limit=10&search=f&cursor="+cursor, tok, nil, &pg); s != 200 {
			t.Fatalf("page %d: %d", pages, s)
		}
		for _, f := range pg.Data {
			all = append(all, f.Name)
		}
		if pg.NextCursor == "" {
			break
		}
		cursor = pg.NextCursor
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
	}
	if len(all) != 25 || all[0] != "f00.txt" || all[24] != "f24.txt" {
		t.Fatalf("paged %d names: %v", len(all), all)
	}
	if s := e.Do("GET", "/api/list/files?limit=0", tok, nil, nil); s != 400 {
		t.Fatalf("limit=0: %d", s)
	}
}
