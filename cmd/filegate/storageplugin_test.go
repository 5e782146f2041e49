package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
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

// TestStoragePluginProcess serves the primary storage from the local backend as a
// process plugin: curl uploads and downloads through it; the plugin process is killed
// in the middle of an upload, which fails, leaving nothing at the target, while the
// gateway keeps serving, and the next upload and download run on a restarted plugin.
func TestStoragePluginProcess(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "local-plugin")
	if out, err := exec.Command("go", "build", "-o", exe, "../../plugins/storage/local/plugin").CombinedOutput(); err != nil {
		t.Fatalf("building the local storage plugin: %v\n%s", err, out)
	}
	root := filepath.Join(dir, "files")
	addr := writeConfig(t, dir)
	f, err := os.OpenFile(filepath.Join(dir, "gateway.toml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "\n[[storage]]\nname = \"default\"\nplugin = %q\nconfig = { root = %q }\n", exe, root)
	f.Close()
	keys := initDir(t, dir)
	gw := startServe(t, dir, addr)
	tok := token(t, addr, keys)

	pid := pluginPid(t, gw.Process.Pid, exe)
	data := make([]byte, 5<<20+321)
	rand.Read(data)
	src := filepath.Join(dir, "src.bin")
	os.WriteFile(src, data, 0o644)
	curlRoundTrip(t, addr, tok, src, "first.bin", data)

	// An upload fed slowly (by Go's client: curl reads a form file from stdin whole
	// before sending); the plugin dies under it.
	pr, pw := io.Pipe()
	status := make(chan string, 1)
	go func() {
		resp, err := streamUpload(context.Background(), addr, tok, `{"overwrite":false}`, "killed.bin", pr)
		if err != nil {
			status <- err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		status <- resp.Status + " " + string(body)
	}()
	pw.Write(data[:3<<20])
	deadline := time.Now().Add(20 * time.Second)
	for !hasTemp(t, root) {
		if time.Now().After(deadline) {
			t.Fatal("the upload never reached the storage plugin")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	pw.Close() // the request ends well-formed: only the plugin's death can fail it
	answer := <-status
	if strings.HasPrefix(answer, "200") {
		t.Fatalf("the upload succeeded although its storage plugin was killed: %s", answer)
	}
	t.Logf("the upload after the kill: %s", strings.TrimSpace(answer))
	if _, err := os.Stat(filepath.Join(root, "killed.bin")); !os.IsNotExist(err) {
		t.Errorf("killed.bin is at the target after its upload failed: %v", err)
	}
	if resp, err := http.Get("http://" + addr + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the gateway stopped serving after its storage plugin died: %v", err)
	}

	// The next requests restart the plugin.
	curlRoundTrip(t, addr, tok, src, "second.bin", data)
	if newPid := pluginPid(t, gw.Process.Pid, exe); newPid == pid {
		t.Errorf("the plugin process %d was not replaced", pid)
	}
	got, err := os.ReadFile(filepath.Join(root, "first.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("first.bin on disk: %d bytes, %v", len(got), err)
	}
}

// curlRoundTrip uploads src as name with curl, downloads it back with curl and
// compares it with want.
func curlRoundTrip(t *testing.T, addr, tok, src, name string, want []byte) {
	t.Helper()
	auth := "Authorization: Bearer " + tok
	if out, err := exec.Command("curl", "-sS", "-f", "-H", auth, "-F", "f=@"+src+";filename="+name,
		"http://"+addr+"/api/upload").CombinedOutput(); err != nil {
		t.Fatalf("curl upload %s: %v: %s", name, err, out)
	}
	dst := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command("curl", "-sS", "-f", "-H", auth, "-o", dst,
		"http://"+addr+"/api/download/single?path=/"+name).CombinedOutput(); err != nil {
		t.Fatalf("curl download %s: %v: %s", name, err, out)
	}
	got, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("downloaded %s: %d bytes, want %d: %v", name, len(got), len(want), err)
	}
}

// pluginPid returns the pid of the child of parent running exe.
func pluginPid(t *testing.T, parent int, exe string) int {
	t.Helper()
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", parent))
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, field := range strings.Fields(string(b)) {
			pid, _ := strconv.Atoi(field)
			if path, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && path == exe {
				return pid
			}
		}
	}
	t.Fatalf("no child of %d runs %s", parent, exe)
	return 0
}

// TestStoragePluginRelativeRoot: the local backend as a process plugin resolves a
// relative root against the folder of gateway.toml, as the builtin local does, even
// when the gateway (and so the plugin process) runs in another working directory.
func TestStoragePluginRelativeRoot(t *testing.T) {
	dir, cwd := t.TempDir(), t.TempDir()
	exe := filepath.Join(dir, "local-plugin")
	if out, err := exec.Command("go", "build", "-o", exe, "../../plugins/storage/local/plugin").CombinedOutput(); err != nil {
		t.Fatalf("building the local storage plugin: %v\n%s", err, out)
	}
	addr := writeConfig(t, dir)
	f, err := os.OpenFile(filepath.Join(dir, "gateway.toml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(f, "\n[[storage]]\nname = \"default\"\nplugin = \"./local-plugin\"\nconfig = { root = \"files\" }\n")
	f.Close()
	keys := initDir(t, dir)

	startServeFrom(t, dir, addr, cwd)

	data := []byte("stored under the config folder\n")
	src := filepath.Join(t.TempDir(), "src.txt")
	os.WriteFile(src, data, 0o644)
	curlRoundTrip(t, addr, token(t, addr, keys), src, "a.txt", data)
	if got, err := os.ReadFile(filepath.Join(dir, "files", "a.txt")); err != nil || !bytes.Equal(got, data) {
		t.Errorf("files/a.txt next to gateway.toml: %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(cwd, "files")); err == nil {
		t.Error("the plugin put its root in the gateway's working directory")
	}
}
