package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startServe runs `filegate serve --config` in dir and returns the process.
func startServe(t *testing.T, dir, addr string) *exec.Cmd {
	t.Helper()
	return startServeFrom(t, dir, addr, "")
}

// startServeFrom is startServe with the process's working directory cwd ("" for the
// test's).
func startServeFrom(t *testing.T, dir, addr, cwd string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--config", filepath.Join(dir, "gateway.toml"))
	cmd.Dir = cwd
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	waitHealthy(t, "http://"+addr, &stderr)
	return cmd
}

func token(t *testing.T, addr string, k initJSON) string {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"AssociationKey": k.AssociationKey, "AccessKey": k.AccessKey, "SecretKey": k.SecretKey})
	resp, err := http.Post("http://"+addr+"/apiaccess/auth", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&out)
	if out.Token == "" {
		t.Fatalf("auth: %s", resp.Status)
	}
	return out.Token
}

// pattern is a stream of n bytes cycling through one random 1 MiB block (with the
// offset mixed into each block's first bytes, so that no two blocks are equal).
type pattern struct{ n, off int64 }

var patternBlock = func() []byte {
	b := make([]byte, 1<<20)
	rand.Read(b)
	return b
}()

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	if int64(len(b)) > p.n-p.off {
		b = b[:p.n-p.off]
	}
	start := int(p.off % int64(len(patternBlock)))
	n := copy(b, patternBlock[start:])
	if start == 0 && n >= 8 {
		binary.LittleEndian.PutUint64(b, uint64(p.off))
	}
	p.off += int64(n)
	return n, nil
}

// streamUpload sends one file of size bytes from r as a chunked multipart request.
func streamUpload(ctx context.Context, addr, tok, meta, name string, r io.Reader) (*http.Response, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		var err error
		if meta != "" {
			err = mw.WriteField("meta", meta)
		}
		var part io.Writer
		if err == nil {
			part, err = mw.CreateFormFile("f", name)
		}
		if err == nil {
			_, err = io.Copy(part, r)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+addr+"/api/upload", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+tok)
	return http.DefaultClient.Do(req)
}

func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

func freeDisk(dir string) int64 {
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) != nil {
		return 0
	}
	return int64(st.Bavail) * st.Bsize
}

// TestStreamingMemory uploads and downloads 2 GiB through the HTTP API of a real
// gateway process and checks its peak RSS stays under 100 MiB: bodies stream.
func TestStreamingMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 4 GiB over loopback")
	}
	const size = 2 << 30
	dir := t.TempDir()
	if free := freeDisk(dir); free < size+(2<<30) {
		t.Skipf("needs %d GiB free disk for the stored file, %d MiB free", (size+(2<<30))>>30, free>>20)
	}
	addr := writeConfig(t, dir)
	keys := initDir(t, dir)
	cmd := startServe(t, dir, addr)
	tok := token(t, addr, keys)
	h := sha256.New()
	resp, err := streamUpload(context.Background(), addr, tok, "", "big.bin", io.TeeReader(&pattern{n: size}, h))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := hex.EncodeToString(h.Sum(nil))
	if resp.StatusCode != 201 || !strings.Contains(string(body), want) {
		t.Fatalf("upload: %s %s", resp.Status, body)
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/download/single?path=/big.bin", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	h.Reset()
	n, _ := io.Copy(h, resp.Body)
	resp.Body.Close()
	if n != size || hex.EncodeToString(h.Sum(nil)) != want {
		t.Fatalf("download: %d bytes, sha256 %x", n, h.Sum(nil))
	}
	peak := vmHWM(t, cmd.Process.Pid)
	t.Logf("gateway peak RSS after a 2 GiB upload and download: %d MiB", peak>>20)
	if peak > 100<<20 {
		t.Fatalf("gateway peak RSS %d MiB, want < 100 MiB", peak>>20)
	}
}

// TestKilledDuringUploadLeavesNoPartialFile kills the gateway with SIGKILL in the middle
// of an upload that replaces a file: after a restart the previous version is intact, no
// temporary file is left and no upload event was recorded.
func TestKilledDuringUploadLeavesNoPartialFile(t *testing.T) {
	dir := t.TempDir()
	addr := writeConfig(t, dir)
	keys := initDir(t, dir)
	cmd := startServe(t, dir, addr)
	tok := token(t, addr, keys)
	target := filepath.Join(dir, "data", "storage", "report.bin")
	os.WriteFile(target, []byte("previous version"), 0o644)

	// Feed the upload slowly so that the kill lands mid-stream.
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := streamUpload(context.Background(), addr, tok, `{"overwrite":true}`, "report.bin", pr)
		if err == nil {
			resp.Body.Close()
		}
	}()
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	for i := 0; i < 32; i++ { // 2 MiB reaches the server
		if _, err := pw.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for !hasTemp(t, filepath.Dir(target)) {
		if time.Now().After(deadline) {
			t.Fatal("the upload never reached the storage")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	pw.CloseWithError(fmt.Errorf("server killed"))
	<-done

	if got, _ := os.ReadFile(target); string(got) != "previous version" {
		t.Fatalf("after SIGKILL the target holds %d bytes, want the previous version", len(got))
	}
	startServe(t, dir, addr) // restart: sweeps temporary files
	if hasTemp(t, filepath.Dir(target)) {
		t.Fatal("a temporary upload file survived the restart")
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/events?type=file.uploaded", nil)
	req.Header.Set("Authorization", "Bearer "+token(t, addr, keys))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var evs struct{ Total int }
	json.NewDecoder(resp.Body).Decode(&evs)
	resp.Body.Close()
	if evs.Total != 0 {
		t.Fatalf("%d file.uploaded events for an upload that never completed", evs.Total)
	}
}

func hasTemp(t *testing.T, dir string) bool {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".filegate-upload-") {
			return true
		}
	}
	return false
}

// TestReindexRebuildsTree changes files behind the gateway's back and checks that
// `filegate reindex` brings /api/list/tree back in step, hashing only what changed.
func TestReindexRebuildsTree(t *testing.T) {
	dir := t.TempDir()
	addr := writeConfig(t, dir)
	keys := initDir(t, dir)
	root := filepath.Join(dir, "data", "storage")
	os.MkdirAll(filepath.Join(root, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(root, "a", "b", "one.txt"), []byte("one"), 0o644)
	os.WriteFile(filepath.Join(root, "two.txt"), []byte("two"), 0o644)
	out, err := exec.Command(bin, "reindex", "--config", filepath.Join(dir, "gateway.toml")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "2 files (2 hashed), 2 folders") {
		t.Fatalf("reindex: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "reindex", "--config", filepath.Join(dir, "gateway.toml")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "2 files (0 hashed)") {
		t.Fatalf("second reindex should reuse hashes: %v\n%s", err, out)
	}
	startServe(t, dir, addr)
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/list/tree", nil)
	req.Header.Set("Authorization", "Bearer "+token(t, addr, keys))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tree struct {
		Data []struct{ Path, Type, SHA256 string }
	}
	json.NewDecoder(resp.Body).Decode(&tree)
	sum := sha256.Sum256([]byte("one"))
	if len(tree.Data) != 4 || tree.Data[2].Path != "/a/b/one.txt" || tree.Data[2].SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("tree after reindex: %+v", tree.Data)
	}
}
