package sftpd

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path"
	"sync"
	"time"

	"github.com/pkg/sftp"

	"github.com/filegate/filegate/core/internal/xfer"
	"github.com/filegate/filegate/core/vfs"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// handlers serve one SFTP session's requests on its vfs view. pkg/sftp gives them
// clean absolute paths, ".." already resolved within "/".
type handlers struct {
	ctx context.Context
	log *slog.Logger
	fs  *vfs.FS

	mu      sync.Mutex
	uploads map[string]*uploadHandle // open uploads by path, for setstat before close
}

var (
	_ sftp.FileReader           = (*handlers)(nil)
	_ sftp.FileWriter           = (*handlers)(nil)
	_ sftp.PosixRenameFileCmder = (*handlers)(nil)
	_ sftp.StatVFSFileCmder     = (*handlers)(nil)
	_ sftp.RealPathFileLister   = (*handlers)(nil)
)

// status is a client-facing error carrying the SFTP status code pkg/sftp sends.
type status struct {
	err  error
	code error // one of the sftp.ErrSSHFx* values
}

func (s *status) Error() string { return s.err.Error() }
func (s *status) Unwrap() error { return s.code }

// fail logs err, the cause of operation op on p, and returns what the client is told.
func (h *handlers) fail(op, p string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	err = xfer.Fail(h.ctx, h.log, op, p, err)
	code := sftp.ErrSSHFxFailure
	switch xfer.KindOf(err) {
	case hostapi.ErrNotExist:
		code = sftp.ErrSSHFxNoSuchFile
	case hostapi.ErrPermission:
		code = sftp.ErrSSHFxPermissionDenied
	case errors.ErrUnsupported:
		code = sftp.ErrSSHFxOpUnsupported
	}
	return &status{err: err, code: code}
}

// Fileread opens a file for reading.
func (h *handlers) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	d, err := xfer.Open(h.ctx, h.log, h.fs, r.Filepath, 0)
	if err != nil {
		return nil, h.fail("open", r.Filepath, err)
	}
	return &downloadHandle{h: h, d: d, path: r.Filepath}, nil
}

// Filewrite opens a file for writing. Without the truncate flag an existing file's
// content is kept (copied into the upload) so that writes at offsets can resume or
// patch it; with the exclusive flag an existing file is an error.
func (h *handlers) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	p, flags := r.Filepath, r.Pflags()
	opts := vfs.CreateOptions{Overwrite: !flags.Excl}
	if !flags.Trunc && !flags.Excl {
		// An upload-only account may not Stat files: it just overwrites.
		if fi, err := h.fs.Stat(r.Context(), p); err == nil && !fi.IsDir {
			opts.Offset = fi.Size
		}
	}
	u, err := xfer.Create(h.ctx, h.log, h.fs, p, opts)
	if err != nil {
		return nil, h.fail("create", p, err)
	}
	uh := &uploadHandle{h: h, u: u, path: p}
	h.mu.Lock()
	h.uploads[p] = uh
	h.mu.Unlock()
	return uh, nil
}

// Filecmd runs setstat, rename, rmdir, mkdir and remove; links are refused.
func (h *handlers) Filecmd(r *sftp.Request) error {
	ctx, p := r.Context(), r.Filepath
	switch r.Method {
	case "Setstat":
		return h.fail("setstat", p, h.setstat(ctx, r))
	case "Rename":
		// SFTP v3 rename does not replace; posix-rename does.
		if _, err := h.fs.Stat(ctx, r.Target); err == nil {
			return h.fail("rename", r.Target, hostapi.ErrExist)
		}
		return h.fail("rename", p, h.fs.Rename(ctx, p, r.Target))
	case "Mkdir":
		return h.fail("mkdir", p, h.fs.Mkdir(ctx, p, false))
	case "Rmdir":
		return h.fail("rmdir", p, h.remove(ctx, p, true))
	case "Remove":
		return h.fail("remove", p, h.remove(ctx, p, false))
	}
	return h.fail(r.Method, p, errors.ErrUnsupported)
}

// remove deletes the empty folder p when dir, else the file p.
func (h *handlers) remove(ctx context.Context, p string, dir bool) error {
	fi, err := h.fs.Stat(ctx, p)
	switch {
	case err != nil:
		return err
	case dir && !fi.IsDir:
		return hostapi.ErrNotDir
	case !dir && fi.IsDir:
		return hostapi.ErrIsDir
	}
	return h.fs.Remove(ctx, p, false)
}

// setstat sets the modification time, and truncates when asked for a size no larger
// than the file's. Permissions and owners are accepted and ignored: the storage has
// none; so are times on storage that cannot keep them. On a file still being uploaded in this session, the time is applied once the
// upload is committed.
func (h *handlers) setstat(ctx context.Context, r *sftp.Request) error {
	flags, attrs := r.AttrFlags(), r.Attributes()
	p := r.Filepath
	h.mu.Lock()
	uh := h.uploads[p]
	h.mu.Unlock()
	if uh != nil {
		if flags.Acmodtime {
			uh.u.SetModTime(time.Unix(int64(attrs.Mtime), 0))
		}
		return nil
	}
	if flags.Size {
		if err := h.truncate(ctx, p, int64(attrs.Size)); err != nil {
			return err
		}
	}
	if flags.Acmodtime {
		err := h.fs.Chtimes(ctx, p, time.Unix(int64(attrs.Mtime), 0))
		if errors.Is(err, errors.ErrUnsupported) {
			// Object storage keeps its own times: like permissions, the time is
			// accepted and ignored (clients such as rclone set it after every
			// upload), as long as the file exists.
			_, err = h.fs.Stat(ctx, p)
		}
		return err
	}
	return nil
}

// truncate cuts the file p to size bytes; growing a file is not supported.
func (h *handlers) truncate(ctx context.Context, p string, size int64) error {
	fi, err := h.fs.Stat(ctx, p)
	switch {
	case err != nil:
		return err
	case fi.IsDir:
		return hostapi.ErrIsDir
	case size == fi.Size:
		return nil
	case size > fi.Size:
		return errors.ErrUnsupported
	}
	w, err := h.fs.Create(ctx, p, vfs.CreateOptions{Offset: size, Overwrite: true})
	if err != nil {
		return err
	}
	_, err = w.Commit(ctx)
	return err
}

// PosixRename moves a file or folder, replacing a file at the target.
func (h *handlers) PosixRename(r *sftp.Request) error {
	return h.fail("rename", r.Filepath, h.fs.Rename(r.Context(), r.Filepath, r.Target))
}

// StatVFS answers statvfs@openssh.com. Backends do not report capacity, so the
// space is reported as plentiful rather than as full.
func (h *handlers) StatVFS(r *sftp.Request) (*sftp.StatVFS, error) {
	if _, err := h.fs.Stat(r.Context(), r.Filepath); err != nil {
		return nil, h.fail("statvfs", r.Filepath, err)
	}
	const blocks = 1 << 32 // 16 TiB of 4 KiB blocks
	return &sftp.StatVFS{
		Bsize: 4096, Frsize: 4096,
		Blocks: blocks, Bfree: blocks, Bavail: blocks,
		Files: blocks, Ffree: blocks, Favail: blocks,
		Namemax: 255,
	}, nil
}

// Filelist lists folders (opendir/readdir) and describes files (stat, lstat, fstat).
func (h *handlers) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	p := r.Filepath
	switch r.Method {
	case "List":
		return &dirLister{dir: xfer.OpenDir(h.ctx, h.log, h.fs, p), fail: func(err error) error { return h.fail("list", p, err) }}, nil
	case "Stat", "Lstat": // no symbolic links: lstat is stat
		fi, err := h.fs.Stat(r.Context(), p)
		if err != nil {
			return nil, h.fail("stat", p, err)
		}
		if fi.Name == "" {
			fi.Name = path.Base(p)
		}
		return fileLister{xfer.FileInfo{FileInfo: fi}}, nil
	}
	return nil, h.fail(r.Method, p, errors.ErrUnsupported)
}

// RealPath resolves p against the root: ".." cannot climb above it.
func (h *handlers) RealPath(p string) (string, error) {
	clean, err := vfs.CleanPath(path.Join("/", p))
	if err != nil {
		return "", h.fail("realpath", p, err)
	}
	return clean, nil
}

// fileLister is the answer to stat: one entry.
type fileLister []os.FileInfo

// ListAt copies the entries from offset.
func (l fileLister) ListAt(ls []os.FileInfo, offset int64) (int, error) {
	if offset >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(ls, l[offset:])
	if n+int(offset) == len(l) {
		return n, io.EOF
	}
	return n, nil
}

// dirLister serves readdir from a folder read a page at a time. pkg/sftp asks for
// consecutive offsets; an offset before the buffered page restarts the listing.
type dirLister struct {
	dir   *xfer.Dir
	fail  func(error) error
	page  []os.FileInfo
	start int64 // offset of page[0]
	eof   bool
}

// ListAt copies entries from offset into ls.
func (l *dirLister) ListAt(ls []os.FileInfo, offset int64) (int, error) {
	for offset >= l.start+int64(len(l.page)) && !l.eof {
		next, err := l.dir.Next()
		if err == io.EOF {
			l.eof = true
			break
		}
		if err != nil {
			return 0, l.fail(err)
		}
		l.start += int64(len(l.page))
		l.page = next
	}
	if offset < l.start {
		return 0, l.fail(errors.New("readdir went backwards")) // pkg/sftp never does
	}
	n := 0
	if i := offset - l.start; i < int64(len(l.page)) {
		n = copy(ls, l.page[i:])
	}
	if n == 0 && l.eof {
		return 0, io.EOF
	}
	return n, nil
}

// downloadHandle is a file open for reading.
type downloadHandle struct {
	h    *handlers
	d    *xfer.Download
	path string
}

// ReadAt reads at off.
func (d *downloadHandle) ReadAt(p []byte, off int64) (int, error) {
	n, err := d.d.ReadAt(p, off)
	return n, d.h.fail("read", d.path, err)
}

// Close ends the download, recording file.downloaded.
func (d *downloadHandle) Close() error { return d.h.fail("close", d.path, d.d.Close()) }

// uploadHandle is a file open for writing.
type uploadHandle struct {
	h    *handlers
	u    *xfer.Upload
	path string
}

// WriteAt writes at off.
func (u *uploadHandle) WriteAt(p []byte, off int64) (int, error) {
	n, err := u.u.WriteAt(p, off)
	return n, u.h.fail("write", u.path, err)
}

// TransferError is called by pkg/sftp when the connection broke with the file open:
// Close then discards the upload.
func (u *uploadHandle) TransferError(err error) { u.u.TransferError(err) }

// Close commits the upload, unless a write failed or the transfer broke.
func (u *uploadHandle) Close() error {
	u.h.mu.Lock()
	if u.h.uploads[u.path] == u {
		delete(u.h.uploads, u.path)
	}
	u.h.mu.Unlock()
	return u.h.fail("close", u.path, u.u.Close())
}
