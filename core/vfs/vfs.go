// Package vfs is the one filesystem view every front end (HTTP, FTP, SFTP) works on: a
// storage backend seen through a session's tenant folder and chroot, with every client
// path cleaned and confined, every operation checked against the session's rights, and
// every completed operation recorded in the journal as an event.
package vfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"strings"
	"time"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// ErrPermission is wrapped by errors for operations the session's rights forbid.
var ErrPermission = hostapi.ErrPermission

// Journal records completed operations durably: the event log and the metadata tree
// (implemented by core/store).
type Journal interface {
	Record(ctx context.Context, tenantID int64, ev hostapi.Event) error
}

// Lister answers folder listings in place of the backend: core/store answers them
// from the metadata tree. dir is a tenant path (the chroot joined with the client
// path), as events carry.
type Lister interface {
	ListChildren(ctx context.Context, tenantID int64, dir string, opts hostapi.ListOptions) (hostapi.ListPage, error)
}

// Rights are what a session may do.
type Rights struct {
	Read   bool // open files, Stat
	List   bool // list folders, Stat
	Write  bool // upload, create folders, set times
	Delete bool // remove files and folders
	Rename bool // move files and folders
}

// RightsFromAccess maps an FTP account's AccessRights: "R" reads and lists, "W" only
// writes (an upload-only camera: it uploads and creates folders but cannot list, read,
// delete or rename), "RW" does everything. Anything else is an error wrapping
// hostapi.ErrInvalid.
func RightsFromAccess(access string) (Rights, error) {
	switch strings.ToUpper(strings.TrimSpace(access)) {
	case "R":
		return Rights{Read: true, List: true}, nil
	case "W":
		return Rights{Write: true}, nil
	case "RW", "WR":
		return Rights{Read: true, List: true, Write: true, Delete: true, Rename: true}, nil
	}
	return Rights{}, fmt.Errorf("vfs: access rights %q are not R, W or RW: %w", access, hostapi.ErrInvalid)
}

// Session is who works on the filesystem and where.
type Session struct {
	TenantID   int64
	TenantRoot string // absolute folder in the backend holding the tenant's files; "/" for the first tenant
	Chroot     string // absolute folder within TenantRoot the session is confined to; "/" for the whole tenant
	Account    string // recorded in events
	Protocol   string // ftp, ftps, sftp, http; recorded in events
	RemoteAddr string // recorded in events
	Rights     Rights
}

// FS is a session's view of a backend. Client paths are relative to the session's
// chroot; "" and "/" are the chroot itself. Events carry tenant paths (the chroot
// joined with the client path). It is safe for concurrent use.
type FS struct {
	backend    hostapi.Storage
	journal    Journal
	session    Session
	tenantRoot string     // clean, absolute
	chroot     string     // clean, absolute, relative to tenantRoot
	err        error      // a bad Session: every method fails with it
	lister     Lister     // answers List instead of the backend, when set
	authz      Authorizer // asked before operations, when set
	now        func() time.Time
}

// New returns the view of backend for session s, recording events in j. A Session with
// an unusable TenantRoot or Chroot makes every method fail.
func New(backend hostapi.Storage, j Journal, s Session) *FS {
	f := &FS{backend: backend, journal: j, session: s, now: time.Now}
	var err1, err2 error
	f.tenantRoot, err1 = CleanPath(s.TenantRoot)
	f.chroot, err2 = CleanPath(s.Chroot)
	if err := errors.Join(err1, err2); err != nil {
		f.err = fmt.Errorf("vfs: bad session roots: %w", err)
	}
	return f
}

// Session returns the session the FS was made for.
func (f *FS) Session() Session { return f.session }

// Resolve confines the client path p to the session: it returns the path in the
// backend and the tenant path (used in events), or an error wrapping
// hostapi.ErrInvalid for a path CleanPath refuses.
func (f *FS) Resolve(p string) (backendPath, tenantPath string, err error) {
	if f.err != nil {
		return "", "", f.err
	}
	clean, err := CleanPath(p)
	if err != nil {
		return "", "", err
	}
	tenantPath = path.Join(f.chroot, clean)
	backendPath = path.Join(f.tenantRoot, tenantPath)
	if !isWithin(tenantPath, f.chroot) || !isWithin(backendPath, path.Join(f.tenantRoot, f.chroot)) {
		// Unreachable after CleanPath; kept as the last line of defence.
		return "", "", fmt.Errorf("vfs: path %q leaves the chroot: %w", p, ErrPermission)
	}
	return backendPath, tenantPath, nil
}

// target is a resolved client path.
type target struct {
	backend string // path in the backend
	tenant  string // path in events
	client  string // the clean client path, the only one errors show
	isRoot  bool   // the chroot itself
}

// resolve resolves p for op, checking first that the session holds the right.
func (f *FS) resolve(op, p string, allowed bool, right string) (target, error) {
	if !allowed {
		return target{}, &PathError{Op: op, Path: p, Err: fmt.Errorf("%s right required: %w", right, ErrPermission)}
	}
	bp, tp, err := f.Resolve(p)
	if err != nil {
		return target{}, &PathError{Op: op, Path: p, Err: err}
	}
	client, _ := CleanPath(p) // cannot fail: Resolve accepted p
	return target{backend: bp, tenant: tp, client: client, isRoot: tp == f.chroot}, nil
}

// Stat describes p. It needs the Read or List right; with only Write it describes
// folders (so an upload-only client can check where it is) and refuses files.
func (f *FS) Stat(ctx context.Context, p string) (hostapi.FileInfo, error) {
	r := f.session.Rights
	t, err := f.resolve("stat", p, r.Read || r.List || r.Write, "read or list")
	if err != nil {
		return hostapi.FileInfo{}, err
	}
	fi, err := f.backend.Stat(ctx, t.backend)
	if err != nil {
		return hostapi.FileInfo{}, t.fail("stat", err)
	}
	if !r.Read && !r.List && !fi.IsDir {
		return hostapi.FileInfo{}, t.deny("stat", fmt.Errorf("read or list right required: %w", ErrPermission))
	}
	if t.isRoot {
		fi.Name = ""
	}
	return fi, nil
}

// List returns one page of the folder p, from the backend or, after ListFrom, from
// the Lister. It needs the List right.
func (f *FS) List(ctx context.Context, p string, opts hostapi.ListOptions) (hostapi.ListPage, error) {
	t, err := f.resolve("list", p, f.session.Rights.List, "list")
	if err != nil {
		return hostapi.ListPage{}, err
	}
	if err := f.authorize(ctx, hostapi.ActionList, t, "", -1); err != nil {
		return hostapi.ListPage{}, err
	}
	var page hostapi.ListPage
	if f.lister != nil {
		page, err = f.lister.ListChildren(ctx, f.session.TenantID, t.tenant, opts)
	} else {
		page, err = f.backend.List(ctx, t.backend, opts)
	}
	if err != nil {
		return hostapi.ListPage{}, t.fail("list", err)
	}
	return page, nil
}

// ListFrom makes List answer from l instead of the backend (listing = "metadata"),
// and returns f. Call it before f is in use.
func (f *FS) ListFrom(l Lister) *FS {
	f.lister = l
	return f
}

// Mkdir creates the folder p; with parents, missing parents too and an existing folder
// is no error. It records dir.created for each folder created, and needs the Write right.
func (f *FS) Mkdir(ctx context.Context, p string, parents bool) error {
	t, err := f.resolve("mkdir", p, f.session.Rights.Write, "write")
	if err != nil {
		return err
	}
	if err := f.authorize(ctx, hostapi.ActionMkdir, t, "", -1); err != nil {
		return err
	}
	if parents {
		return f.mkdirAll(ctx, t.tenant)
	}
	if err := f.backend.Mkdir(ctx, t.backend); err != nil {
		return t.fail("mkdir", err)
	}
	return f.record(ctx, f.event(hostapi.EventDirCreated, t.tenant))
}

// mkdirAll creates the tenant folder dir and its missing parents below the chroot,
// recording dir.created for each.
func (f *FS) mkdirAll(ctx context.Context, dir string) error {
	rel := strings.TrimPrefix(dir, f.chroot)
	cur := f.chroot
	for elem := range strings.SplitSeq(rel, "/") {
		if elem == "" {
			continue
		}
		cur = path.Join(cur, elem)
		t := target{backend: path.Join(f.tenantRoot, cur), tenant: cur}
		fi, err := f.backend.Stat(ctx, t.backend)
		switch {
		case err == nil && fi.IsDir:
			continue
		case err == nil:
			return t.deny("mkdir", hostapi.ErrNotDir)
		case !errors.Is(err, hostapi.ErrNotExist):
			return t.fail("mkdir", err)
		}
		if err := f.backend.Mkdir(ctx, t.backend); err != nil {
			if errors.Is(err, hostapi.ErrExist) {
				continue // created concurrently; Stat on the next element tells if it is a file
			}
			return t.fail("mkdir", err)
		}
		if err := f.record(ctx, f.event(hostapi.EventDirCreated, cur)); err != nil {
			return err
		}
	}
	return nil
}

// Rename moves the file or folder from to to, replacing a file at to, and records
// file.moved. A backend that moves a folder object by object reports its progress
// (hostapi.ReportProgress), recorded as dir.moving events before file.moved. It needs
// the Rename right.
func (f *FS) Rename(ctx context.Context, from, to string) error {
	src, err := f.resolve("rename", from, f.session.Rights.Rename, "rename")
	if err != nil {
		return err
	}
	dst, err := f.resolve("rename", to, true, "")
	if err != nil {
		return err
	}
	if src.isRoot || dst.isRoot {
		return src.deny("rename", fmt.Errorf("the root folder cannot move or be replaced: %w", ErrPermission))
	}
	if isWithin(dst.tenant, src.tenant) && dst.tenant != src.tenant {
		return src.deny("rename", fmt.Errorf("cannot move into itself: %w", hostapi.ErrInvalid))
	}
	if err := f.authorize(ctx, hostapi.ActionRename, src, dst.tenant, -1); err != nil {
		return err
	}
	fi, err := f.backend.Stat(ctx, src.backend)
	if err != nil {
		return src.fail("rename", err)
	}
	if src.tenant == dst.tenant {
		return nil // nothing moves, nothing to record
	}
	if fi.IsDir {
		ctx = hostapi.WithProgress(ctx, f.moveProgress(ctx, src, dst))
	}
	if err := f.backend.Rename(ctx, src.backend, dst.backend); err != nil {
		return src.fail("rename", err)
	}
	ev := f.event(hostapi.EventFileMoved, dst.tenant)
	ev.From, ev.IsDir, ev.Size = src.tenant, fi.IsDir, fi.Size
	return f.record(ctx, ev)
}

// moveProgress returns the hostapi.ProgressFunc of a folder rename from src to dst:
// it records each report as a dir.moving event. Progress is informative: an event that
// cannot be recorded is logged, and the rename goes on.
func (f *FS) moveProgress(ctx context.Context, src, dst target) hostapi.ProgressFunc {
	return func(p hostapi.Progress) {
		ev := f.event(hostapi.EventDirMoving, dst.tenant)
		ev.From, ev.IsDir, ev.Done, ev.Total = src.tenant, true, p.Done, p.Total
		if err := f.record(ctx, ev); err != nil {
			slog.WarnContext(ctx, "vfs: folder rename progress not recorded", "from", src.tenant, "to", dst.tenant, "err", err)
		}
	}
}

// Remove deletes the file or empty folder p, recording file.deleted or dir.deleted;
// with recursive, a folder and everything in it, recording an event for each file and
// folder. It needs the Delete right.
func (f *FS) Remove(ctx context.Context, p string, recursive bool) error {
	t, err := f.resolve("remove", p, f.session.Rights.Delete, "delete")
	if err != nil {
		return err
	}
	if t.isRoot {
		return t.deny("remove", fmt.Errorf("the root folder cannot be removed: %w", ErrPermission))
	}
	if err := f.authorize(ctx, hostapi.ActionDelete, t, "", -1); err != nil {
		return err
	}
	fi, err := f.backend.Stat(ctx, t.backend)
	if err != nil {
		return t.fail("remove", err)
	}
	if fi.IsDir && recursive {
		return f.removeTree(ctx, t)
	}
	return f.removeOne(ctx, t, fi)
}

// removeOne removes one file or empty folder and records it.
func (f *FS) removeOne(ctx context.Context, t target, fi hostapi.FileInfo) error {
	if err := f.backend.Remove(ctx, t.backend); err != nil {
		return t.fail("remove", err)
	}
	ev := f.event(hostapi.EventFileDeleted, t.tenant)
	if fi.IsDir {
		ev.Type = hostapi.EventDirDeleted
	} else {
		ev.Size = fi.Size
	}
	return f.record(ctx, ev)
}

// removeTree removes the folder t and everything below it, a page at a time.
func (f *FS) removeTree(ctx context.Context, t target) error {
	for {
		if err := ctx.Err(); err != nil {
			return t.fail("remove", err)
		}
		page, err := f.backend.List(ctx, t.backend, hostapi.ListOptions{})
		if err != nil {
			return t.fail("remove", err)
		}
		if len(page.Entries) == 0 {
			break
		}
		for _, e := range page.Entries {
			child := target{backend: path.Join(t.backend, e.Name), tenant: path.Join(t.tenant, e.Name)}
			if e.IsDir {
				err = f.removeTree(ctx, child)
			} else {
				err = f.removeOne(ctx, child, e)
			}
			if err != nil {
				return err
			}
		}
	}
	return f.removeOne(ctx, t, hostapi.FileInfo{IsDir: true})
}

// Chtimes sets the modification time of p. It needs the Write right, and fails with an
// error wrapping errors.ErrUnsupported when the backend cannot set times.
func (f *FS) Chtimes(ctx context.Context, p string, mtime time.Time) error {
	t, err := f.resolve("chtimes", p, f.session.Rights.Write, "write")
	if err != nil {
		return err
	}
	c, ok := f.backend.(hostapi.Chtimer)
	if !ok {
		return t.deny("chtimes", fmt.Errorf("the storage cannot set times: %w", errors.ErrUnsupported))
	}
	if err := c.Chtimes(ctx, t.backend, mtime); err != nil {
		return t.fail("chtimes", err)
	}
	return nil
}

// event returns an event of type typ on the tenant path p, stamped with the session.
func (f *FS) event(typ, p string) hostapi.Event {
	return hostapi.Event{
		Time:       f.now().UTC(),
		Type:       typ,
		Protocol:   f.session.Protocol,
		Account:    f.session.Account,
		Path:       p,
		RemoteAddr: f.session.RemoteAddr,
	}
}

// record appends ev to the journal, if there is one. It is called once the storage has
// made the change, so it ignores ctx's cancellation: a client that leaves meanwhile
// must not leave the change without its event (TestEventOutlivesClient).
func (f *FS) record(ctx context.Context, ev hostapi.Event) error {
	if f.journal == nil {
		return nil
	}
	if err := f.journal.Record(context.WithoutCancel(ctx), f.session.TenantID, ev); err != nil {
		return fmt.Errorf("vfs: record %s %s: %w", ev.Type, ev.Path, err)
	}
	return nil
}

// fail wraps err, returned by the backend for operation op on t.
func (t target) fail(op string, err error) error {
	return &PathError{Op: op, Path: t.client, Err: storageError{err}}
}

// deny wraps err, made by vfs itself, refusing operation op on t.
func (t target) deny(op string, err error) error {
	return &PathError{Op: op, Path: t.client, Err: err}
}

// PathError is the error of an FS method on a path. Its message names the client's
// own path and the kind of failure, never the chroot or the backend's own message
// (which names backend paths); Unwrap returns the full cause, for errors.Is and logs.
type PathError struct {
	Op   string // stat, list, open, create, mkdir, rename, remove, chtimes
	Path string // the path as the client sees it (relative to its chroot)
	Err  error
}

// Error returns "vfs: op path: reason".
func (e *PathError) Error() string { return "vfs: " + e.Op + " " + e.Path + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *PathError) Unwrap() error { return e.Err }

// storageError shows only the kind of a backend's error.
type storageError struct{ err error }

// publicKinds are the error kinds a storageError shows, in order of precedence.
var publicKinds = []error{
	ErrPermission, hostapi.ErrNotExist, hostapi.ErrExist, hostapi.ErrNotDir,
	hostapi.ErrIsDir, hostapi.ErrNotEmpty, hostapi.ErrInvalid, errors.ErrUnsupported,
	context.Canceled, context.DeadlineExceeded, io.ErrUnexpectedEOF,
}

func (e storageError) Error() string {
	for _, kind := range publicKinds {
		if errors.Is(e.err, kind) {
			return kind.Error()
		}
	}
	return "storage failure"
}

func (e storageError) Unwrap() error { return e.err }
