package rules

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// Journal records events (*store.Store is one).
type Journal interface {
	Record(ctx context.Context, tenantID int64, ev hostapi.Event) error
}

// ProtocolRule is the protocol of the events a rule's changes record.
const ProtocolRule = "rule"

// RecordingStorage wraps the backend b of tenant tenantID so that the changes a rule
// makes through it (uploads, folders, moves, deletions) are recorded in the event log
// and the metadata tree as events with protocol "rule" and account rule, as a front
// end's would be; other rules then see them.
//
// Paths are backend paths, recorded as tenant paths unchanged: this is right only for
// a tenant whose storage root is "/" (the tenant init creates). A backend shared by
// tenants with other roots would need the host API to name the tenant; until then
// rules act for the root tenant only.
func RecordingStorage(b hostapi.Storage, j Journal, tenantID int64, rule string) hostapi.Storage {
	return &recording{Storage: b, j: j, tenant: tenantID, rule: rule}
}

type recording struct {
	hostapi.Storage
	j      Journal
	tenant int64
	rule   string
}

func (r *recording) record(ctx context.Context, ev hostapi.Event) error {
	ev.Protocol, ev.Account = ProtocolRule, r.rule
	return r.j.Record(ctx, r.tenant, ev)
}

func (r *recording) Create(ctx context.Context, name string) (hostapi.Upload, error) {
	up, err := r.Storage.Create(ctx, name)
	if err != nil {
		return nil, err
	}
	return &recordingUpload{Upload: up, r: r, name: name, sum: sha256.New()}, nil
}

func (r *recording) Mkdir(ctx context.Context, name string) error {
	if err := r.Storage.Mkdir(ctx, name); err != nil {
		return err
	}
	return r.record(ctx, hostapi.Event{Type: hostapi.EventDirCreated, Path: name})
}

func (r *recording) Rename(ctx context.Context, from, to string) error {
	fi, err := r.Storage.Stat(ctx, from)
	if err != nil {
		return err
	}
	if err := r.Storage.Rename(ctx, from, to); err != nil {
		return err
	}
	return r.record(ctx, hostapi.Event{Type: hostapi.EventFileMoved, Path: to, From: from, Size: fi.Size, IsDir: fi.IsDir})
}

func (r *recording) Remove(ctx context.Context, name string) error {
	fi, err := r.Storage.Stat(ctx, name)
	if err != nil {
		return err
	}
	if err := r.Storage.Remove(ctx, name); err != nil {
		return err
	}
	typ := hostapi.EventFileDeleted
	if fi.IsDir {
		typ = hostapi.EventDirDeleted
	}
	return r.record(ctx, hostapi.Event{Type: typ, Path: name, Size: fi.Size, IsDir: fi.IsDir})
}

// recordingUpload hashes what is written and records the upload on Commit.
type recordingUpload struct {
	hostapi.Upload
	r    *recording
	name string
	sum  hash.Hash
	size int64
}

func (u *recordingUpload) Write(p []byte) (int, error) {
	n, err := u.Upload.Write(p)
	u.sum.Write(p[:n])
	u.size += int64(n)
	return n, err
}

func (u *recordingUpload) Commit(ctx context.Context) error {
	if err := u.Upload.Commit(ctx); err != nil {
		return err
	}
	err := u.r.record(ctx, hostapi.Event{Type: hostapi.EventFileUploaded, Path: u.name, Size: u.size, SHA256: hex.EncodeToString(u.sum.Sum(nil))})
	if err != nil {
		return errors.Join(errors.New("the file was written but its event was not recorded (filegate reindex repairs the tree)"), err)
	}
	return nil
}
