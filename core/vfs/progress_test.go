package vfs_test

import (
	"context"
	"testing"

	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/plugins/storage/memory"
)

// reportingStorage reports two steps of progress on each rename, as an object store
// moving a folder does.
type reportingStorage struct{ hostapi.Storage }

func (s reportingStorage) Rename(ctx context.Context, from, to string) error {
	hostapi.ReportProgress(ctx, hostapi.Progress{Done: 1, Total: 2, Path: from})
	hostapi.ReportProgress(ctx, hostapi.Progress{Done: 2, Total: 2, Path: from})
	return s.Storage.Rename(ctx, from, to)
}

// TestRenameProgress: the progress a backend reports while moving a folder is
// recorded as dir.moving events, in tenant paths, before file.moved; a file's move
// installs no reporter.
func TestRenameProgress(t *testing.T) {
	s := reportingStorage{memory.New()}
	for _, d := range []string{"/tenants", "/tenants/7", "/tenants/7/uploads", "/tenants/7/uploads/a"} {
		if err := s.Mkdir(t.Context(), d); err != nil {
			t.Fatal(err)
		}
	}
	e := newEnv(s, allRights)
	if err := e.fs.Rename(t.Context(), "a", "b"); err != nil {
		t.Fatal(err)
	}
	moving := hostapi.Event{Type: hostapi.EventDirMoving, Path: "/uploads/b", From: "/uploads/a", IsDir: true, Total: 2}
	first, last := moving, moving
	first.Done, last.Done = 1, 2
	e.j.want(t, first, last, hostapi.Event{Type: hostapi.EventFileMoved, Path: "/uploads/b", From: "/uploads/a", IsDir: true})

	objPut(t, e.backend, "/tenants/7/uploads/file.txt")
	if err := e.fs.Rename(t.Context(), "file.txt", "g.txt"); err != nil {
		t.Fatal(err)
	}
	e.j.want(t, hostapi.Event{Type: hostapi.EventFileMoved, Path: "/uploads/g.txt", From: "/uploads/file.txt", Size: 2})
}

// objPut writes a two-byte file straight to the backend.
func objPut(t *testing.T, s hostapi.Storage, name string) {
	t.Helper()
	u, err := s.Create(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	u.Write([]byte("hi"))
	if err := u.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
}
