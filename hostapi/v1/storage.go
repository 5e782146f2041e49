// Package hostapi is version 1 of the contract between the Filegate core and its
// plugins. It holds only types and interfaces; it imports nothing of the project.
//
// Paths given to a Storage are always clean, slash-separated and absolute ("/" is the
// backend's root); the core has confined them before the call, so a backend may trust
// them but must still refuse anything that would leave its root.
package hostapi

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"time"
)

// Version is the host API version this package describes.
//
// 1.1 added the storage kind on the wasm and process transports (StoragePlugin and
// the storage methods of ABI.md). 1.2 appended Event.Done and Event.Total to the
// encoded Event and added ConfigPath. Both only add, so this host serves plugins built
// for 1.0 and 1.1 unchanged; the bump lets a plugin that relies on an addition be
// refused by an older host, with an error naming both versions, instead of silently
// seeing zeros (or an unresolved path) there.
const Version = "1.2"

// Errors a Storage returns, matched with errors.Is. They alias io/fs errors so that
// backends built on the os package need no translation.
var (
	ErrNotExist   = fs.ErrNotExist
	ErrExist      = fs.ErrExist
	ErrPermission = fs.ErrPermission
	ErrInvalid    = fs.ErrInvalid
	ErrNotDir     = errors.New("not a directory")
	ErrIsDir      = errors.New("is a directory")
	ErrNotEmpty   = errors.New("directory not empty")
)

// FileInfo describes one file or folder in a Storage.
type FileInfo struct {
	Name    string    // base name, "" for the root
	Size    int64     // bytes; 0 for folders
	ModTime time.Time // last modification
	IsDir   bool
}

// ListOptions selects one page of a folder listing.
type ListOptions struct {
	Limit  int    // at most this many entries; <= 0 means the backend's default
	Cursor string // opaque value from a previous ListPage.NextCursor; "" starts at the beginning
	Prefix string // only names starting with this prefix
	// DirsOnly and FilesOnly filter by kind; at most one of them is true.
	DirsOnly, FilesOnly bool
}

// ListPage is one page of a folder listing, sorted by name.
type ListPage struct {
	Entries    []FileInfo
	NextCursor string // "" when this is the last page
}

// Storage is a storage backend: the local disk, memory, S3, Azure Blob, or a plugin.
// Every method must be safe for concurrent use.
type Storage interface {
	// Stat describes name. ErrNotExist when there is nothing there.
	Stat(ctx context.Context, name string) (FileInfo, error)
	// List returns one page of the folder dir, sorted by name.
	List(ctx context.Context, dir string, opts ListOptions) (ListPage, error)
	// Open reads the file name starting at offset.
	Open(ctx context.Context, name string, offset int64) (io.ReadCloser, error)
	// Create starts writing the file name. Nothing is visible at name until Commit
	// returns; Abort (or a crash) leaves the previous content, or nothing. The parent
	// folder must exist.
	Create(ctx context.Context, name string) (Upload, error)
	// Mkdir creates the folder name; its parent must exist. ErrExist if it exists.
	Mkdir(ctx context.Context, name string) error
	// Rename moves a file or folder; the target's parent must exist and the target
	// must not be a non-empty folder. An existing file at the target is replaced.
	Rename(ctx context.Context, from, to string) error
	// Remove deletes a file, or an empty folder. ErrNotEmpty for a folder with entries.
	Remove(ctx context.Context, name string) error
}

// Upload is a file being written. Exactly one of Commit or Abort must be called.
type Upload interface {
	io.Writer
	// Commit makes the written bytes visible at the target path atomically.
	Commit(ctx context.Context) error
	// Abort discards everything written; calling it after Commit does nothing.
	Abort() error
}

// Chtimer is implemented by backends that can set a file's modification time
// (FTP MFMT, SFTP setstat).
type Chtimer interface {
	Chtimes(ctx context.Context, name string, mtime time.Time) error
}

// Opener builds a Storage from its decoded `[[storage]] config` table.
type Opener func(config map[string]any) (Storage, error)

// Sweeper is implemented by backends that keep the leftovers of uploads a crash
// interrupted (temporary files, incomplete multipart uploads). The core calls SweepTemp
// once at start, before serving, and logs how many it removed.
type Sweeper interface {
	SweepTemp(ctx context.Context) (removed int, err error)
}
