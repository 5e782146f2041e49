package ftpd

import (
	"errors"
	"io"
	"os"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
	"github.com/spf13/afero"

	"github.com/filegate/filegate/core/internal/xfer"
	"github.com/filegate/filegate/core/vfs"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// clientFS is a logged-in session's filesystem as ftpserverlib wants it: the afero.Fs
// methods it calls, plus the extensions that let transfers and listings skip
// afero.File. Paths arrive absolute and clean (ftpserverlib resolves ".." within "/").
type clientFS struct {
	s  *session
	fs *vfs.FS
}

var (
	_ ftpserver.ClientDriver                      = (*clientFS)(nil)
	_ ftpserver.ClientDriverExtentionFileTransfer = (*clientFS)(nil)
	_ ftpserver.ClientDriverExtensionFileList     = (*clientFS)(nil)
	_ ftpserver.ClientDriverExtensionRemoveDir    = (*clientFS)(nil)
)

// fail logs err and returns what the client is told.
func (c *clientFS) fail(op, p string, err error) error {
	return xfer.Fail(c.s.ctx, c.s.log, op, p, err)
}

// Name names the filesystem.
func (c *clientFS) Name() string { return "filegate" }

// Stat describes p (SIZE, MDTM, MLST, CWD, RNFR).
func (c *clientFS) Stat(p string) (os.FileInfo, error) {
	fi, err := c.fs.Stat(c.s.ctx, p)
	if err != nil {
		return nil, c.fail("stat", p, err)
	}
	return xfer.FileInfo{FileInfo: fi}, nil
}

// ReadDir lists the folder p (LIST, NLST, MLSD).
func (c *clientFS) ReadDir(p string) ([]os.FileInfo, error) {
	return xfer.ReadAll(c.s.ctx, c.s.log, c.fs, p)
}

// Mkdir creates the folder p (MKD).
func (c *clientFS) Mkdir(p string, _ os.FileMode) error {
	return c.fail("mkdir", p, c.fs.Mkdir(c.s.ctx, p, false))
}

// MkdirAll creates the folder p and its parents.
func (c *clientFS) MkdirAll(p string, _ os.FileMode) error {
	return c.fail("mkdir", p, c.fs.Mkdir(c.s.ctx, p, true))
}

// Remove deletes the file p (DELE); folders go through RemoveDir.
func (c *clientFS) Remove(p string) error {
	fi, err := c.fs.Stat(c.s.ctx, p)
	if err == nil && fi.IsDir {
		err = hostapi.ErrIsDir
	}
	if err == nil {
		err = c.fs.Remove(c.s.ctx, p, false)
	}
	return c.fail("delete", p, err)
}

// RemoveDir deletes the empty folder p (RMD).
func (c *clientFS) RemoveDir(p string) error {
	fi, err := c.fs.Stat(c.s.ctx, p)
	if err == nil && !fi.IsDir {
		err = hostapi.ErrNotDir
	}
	if err == nil {
		err = c.fs.Remove(c.s.ctx, p, false)
	}
	return c.fail("rmdir", p, err)
}

// RemoveAll deletes p and everything below it.
func (c *clientFS) RemoveAll(p string) error {
	return c.fail("delete", p, c.fs.Remove(c.s.ctx, p, true))
}

// Rename moves from to to (RNFR, RNTO).
func (c *clientFS) Rename(from, to string) error {
	return c.fail("rename", from, c.fs.Rename(c.s.ctx, from, to))
}

// Chtimes sets the modification time of p (MFMT).
func (c *clientFS) Chtimes(p string, _, mtime time.Time) error {
	return c.fail("set time", p, c.fs.Chtimes(c.s.ctx, p, mtime))
}

// Chmod is refused: the storage has no permission bits.
func (c *clientFS) Chmod(p string, _ os.FileMode) error {
	return c.fail("chmod", p, errors.ErrUnsupported)
}

// Chown is refused: the storage has no owners.
func (c *clientFS) Chown(p string, _, _ int) error {
	return c.fail("chown", p, errors.ErrUnsupported)
}

// Create is not used: transfers go through GetHandle.
func (c *clientFS) Create(p string) (afero.File, error) {
	return nil, c.fail("create", p, errors.ErrUnsupported)
}

// Open is not used: transfers go through GetHandle, listings through ReadDir.
func (c *clientFS) Open(p string) (afero.File, error) {
	return nil, c.fail("open", p, errors.ErrUnsupported)
}

// OpenFile is not used: transfers go through GetHandle.
func (c *clientFS) OpenFile(p string, _ int, _ os.FileMode) (afero.File, error) {
	return nil, c.fail("open", p, errors.ErrUnsupported)
}

// GetHandle opens p for RETR (os.O_RDONLY, from offset), STOR (O_TRUNC), STOR after
// REST (the first offset bytes are kept) or APPE (os.O_APPEND).
func (c *clientFS) GetHandle(p string, flags int, offset int64) (ftpserver.FileTransfer, error) {
	if err := c.s.acquire(); err != nil {
		return nil, err
	}
	var (
		ft  ftpserver.FileTransfer
		err error
	)
	if flags&(os.O_WRONLY|os.O_RDWR) == 0 {
		var d *xfer.Download
		if d, err = xfer.Open(c.s.ctx, c.s.log, c.fs, p, offset); err == nil {
			ft = &download{Download: d, s: c.s}
		}
	} else {
		ft, err = c.upload(p, flags, offset)
	}
	if err != nil {
		c.s.release()
		return nil, err
	}
	return ft, nil
}

// upload starts STOR, STOR after REST, or APPE.
func (c *clientFS) upload(p string, flags int, offset int64) (ftpserver.FileTransfer, error) {
	opts := vfs.CreateOptions{Overwrite: true}
	switch {
	case flags&os.O_APPEND != 0:
		fi, err := c.fs.Stat(c.s.ctx, p)
		switch {
		case err == nil:
			opts.Offset = fi.Size
		case !errors.Is(err, hostapi.ErrNotExist):
			return nil, c.fail("append", p, err)
		}
	case flags&os.O_TRUNC == 0:
		opts.Offset = offset
	}
	u, err := xfer.Create(c.s.ctx, c.s.log, c.fs, p, opts)
	if err != nil {
		return nil, err
	}
	return &upload{Upload: u, s: c.s, pos: opts.Offset}, nil
}

// errDirection is returned for reading an upload or writing a download.
var errDirection = errors.New("ftp: transfer in the other direction")

// download is a RETR in progress. ftpserverlib's io.Copy to the data connection uses
// its WriteTo (xfer.Download's): sendfile from a local file over plain FTP.
type download struct {
	*xfer.Download
	s *session
}

// Write is refused: a download is read.
func (*download) Write([]byte) (int, error) { return 0, errDirection }

// Close ends the download and its transfer.
func (d *download) Close() error {
	defer d.s.release()
	return d.Download.Close()
}

// upload is a STOR or APPE in progress. ftpserverlib's io.Copy from the data connection
// uses its ReadFrom (xfer.Upload's): the bytes go straight into the hash's buffers.
type upload struct {
	*xfer.Upload
	s   *session
	pos int64 // where the upload starts, the only offset Seek accepts
}

// Read is refused: an upload is written.
func (*upload) Read([]byte) (int, error) { return 0, errDirection }

// Seek accepts only the offset the upload started at (ftpserverlib seeks after REST).
func (u *upload) Seek(offset int64, whence int) (int64, error) {
	if whence != io.SeekStart || offset != u.pos {
		return u.pos, errors.ErrUnsupported
	}
	return offset, nil
}

// Close commits the upload, unless the transfer failed or the client has gone.
func (u *upload) Close() error {
	defer u.s.release()
	if u.s.isGone() {
		u.TransferError(errClientGone)
	}
	return u.Upload.Close()
}

// errClientGone is the transfer error of an upload whose control connection ended.
var errClientGone = errors.New("control connection closed")
