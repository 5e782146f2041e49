package hostapi

import "time"

// Event types, as pinned by DESIGN.md.
const (
	EventFileUploaded   = "file.uploaded"
	EventFileDownloaded = "file.downloaded"
	EventFileDeleted    = "file.deleted"
	EventFileMoved      = "file.moved"
	EventDirCreated     = "dir.created"
	EventDirDeleted     = "dir.deleted"
	EventLoginSucceeded = "login.succeeded"
	EventLoginFailed    = "login.failed"
	// EventLoginBanned is recorded when repeated failed logins ban an address on every
	// protocol (an addition to the types DESIGN.md pins).
	EventLoginBanned = "login.banned"
	// EventDirMoving reports the progress of a folder rename on a storage that moves
	// it object by object (S3, Azure Blob): Done of Total objects moved so far, from
	// From to Path. Several precede the rename's file.moved (an addition to the types
	// DESIGN.md pins).
	EventDirMoving = "dir.moving"
)

// EventTypes lists every event type in a stable order.
var EventTypes = []string{
	EventFileUploaded, EventFileDownloaded, EventFileDeleted, EventFileMoved,
	EventDirCreated, EventDirDeleted, EventLoginSucceeded, EventLoginFailed, EventLoginBanned,
	EventDirMoving,
}

// Event is one completed operation, as recorded in the event log and handed to rules.
type Event struct {
	ID         int64     `json:"id"`
	Time       time.Time `json:"time"`
	Type       string    `json:"type"`
	Protocol   string    `json:"protocol"` // ftp, ftps, sftp, http, rule
	Account    string    `json:"account"`
	Path       string    `json:"path"`
	From       string    `json:"from,omitempty"` // the previous path, for file.moved
	Size       int64     `json:"size"`
	SHA256     string    `json:"sha256"`
	RemoteAddr string    `json:"remote_addr"`
	IsDir      bool      `json:"is_dir,omitempty"` // for file.moved of a folder
	Done       int64     `json:"done,omitempty"`   // for dir.moving: objects moved so far
	Total      int64     `json:"total,omitempty"`  // for dir.moving: objects to move in all
}
