package local_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/local"
)

// TestSyncConfig: "sync" is "commit" (the default) or "none"; anything else is refused.
// Either way an upload is invisible until Commit and whole after it, with no
// temporary file left.
func TestSyncConfig(t *testing.T) {
	for _, bad := range []any{"always", "", true, 1} {
		if _, err := local.Open(map[string]any{"root": t.TempDir(), "sync": bad}); err == nil || !strings.Contains(err.Error(), "sync") {
			t.Errorf("sync = %#v: %v, want an error naming the key", bad, err)
		}
	}
	for _, mode := range []string{local.SyncCommit, local.SyncNone} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			st, err := local.Open(map[string]any{"root": dir, "sync": mode})
			if err != nil {
				t.Fatal(err)
			}
			defer st.(*local.Storage).Close()
			data := bytes.Repeat([]byte("sync "), 5<<20) // 25 MiB: writeback starts on the way
			up, err := st.Create(context.Background(), "/f.bin")
			if err != nil {
				t.Fatal(err)
			}
			for off := 0; off < len(data); off += 1 << 20 {
				if _, err := up.Write(data[off:min(off+1<<20, len(data))]); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "f.bin")); !os.IsNotExist(err) {
				t.Fatalf("visible before Commit: %v", err)
			}
			if err := up.Commit(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(filepath.Join(dir, "f.bin")); !bytes.Equal(got, data) {
				t.Fatalf("committed %d bytes, differing from the %d written", len(got), len(data))
			}
			if left, _ := filepath.Glob(filepath.Join(dir, local.TempPrefix+"*")); len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}

// TestSetModTime: the time given before Commit is the committed file's; after Commit
// or Abort it is refused.
func TestSetModTime(t *testing.T) {
	s, dir := newStorage(t)
	up, err := s.Create(context.Background(), "/t.bin")
	if err != nil {
		t.Fatal(err)
	}
	up.Write([]byte("hello"))
	when := time.Date(2026, 5, 4, 3, 2, 1, 123_000_000, time.UTC)
	setter := up.(interface{ SetModTime(time.Time) error })
	if err := setter.SetModTime(when); err != nil {
		t.Fatal(err)
	}
	if err := up.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "t.bin"))
	if err != nil || !fi.ModTime().Equal(when) {
		t.Fatalf("mtime %v (%v), want %v", fi.ModTime(), err, when)
	}
	if err := setter.SetModTime(when); err == nil {
		t.Error("SetModTime after Commit succeeded")
	}
}

// TestCommitRetiresReplacedFile: an upload that replaces a large file commits with
// the new content in place at once; the old one, kept under a hidden name while it is
// removed in the background, is gone once the storage closes, and a reader that had
// it open still reads it whole.
func TestCommitRetiresReplacedFile(t *testing.T) {
	dir := t.TempDir()
	s, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	old := bytes.Repeat([]byte("old!"), 1<<19) // 2 MiB
	for _, content := range [][]byte{old, []byte("new")} {
		up, err := s.Create(ctx, "/f.bin")
		if err != nil {
			t.Fatal(err)
		}
		up.Write(content)
		if content[0] == 'n' {
			rc, err := s.Open(ctx, "/f.bin", 0)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || !bytes.Equal(got, old) {
					t.Errorf("open reader of the replaced file: %d bytes, %v", len(got), err)
				}
			}()
		}
		if err := up.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := os.ReadFile(filepath.Join(dir, "f.bin")); err != nil || string(got) != "new" {
		t.Fatalf("after commit: %q, %v", got, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("after Close the folder holds %v, want only f.bin", names)
	}
}

// TestCommitAfterFolderMoved: an upload whose folder is renamed, or removed and made
// again, before Commit fails to commit with ErrNotExist and leaves nothing behind, in
// the moved folder or the new one; one in an untouched folder commits. The upload holds
// its folder open, so this is checked rather than left to a rename by path.
func TestCommitAfterFolderMoved(t *testing.T) {
	root := t.TempDir()
	s, err := local.New(root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for name, change := range map[string]func(dir string) error{
		"renamed": func(dir string) error { return os.Rename(dir, dir+"-moved") },
		"remade": func(dir string) error {
			if err := os.Rename(dir, dir+"-moved"); err != nil {
				return err
			}
			return os.Mkdir(dir, 0o755)
		},
		"untouched": func(string) error { return nil },
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(root, name)
			if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			up, err := s.Create(ctx, "/"+name+"/sub/f.txt")
			if err != nil {
				t.Fatal(err)
			}
			up.Write([]byte("data"))
			if err := change(dir); err != nil {
				t.Fatal(err)
			}
			err = up.Commit(ctx)
			var files []string
			filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() && strings.HasPrefix(p, dir) {
					files = append(files, strings.TrimPrefix(p, root))
				}
				return nil
			})
			if name == "untouched" {
				if err != nil || len(files) != 1 || files[0] != "/untouched/sub/f.txt" {
					t.Errorf("Commit: %v; files %v, want /untouched/sub/f.txt", err, files)
				}
				return
			}
			if !errors.Is(err, hostapi.ErrNotExist) {
				t.Errorf("Commit after the folder was %s: %v, want ErrNotExist", name, err)
			}
			if len(files) != 0 {
				t.Errorf("files left after the failed commit: %v", files)
			}
		})
	}
}
