package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path"

	"github.com/filegate/filegate/core/store"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// ReindexStats says what a reindex found.
type ReindexStats struct {
	Tenants, Files, Dirs int
	Hashed               int // files whose SHA-256 had to be computed (new or changed)
}

// Reindex rebuilds every tenant's metadata tree from its storage. A file whose size and
// modification time match the old tree keeps its SHA-256, protocol and account; any
// other is read once to hash it. progress, when set, is called every 1000 entries.
func (g *Gateway) Reindex(ctx context.Context, progress func(ReindexStats)) (ReindexStats, error) {
	var st ReindexStats
	tenants, err := g.Store.Tenants(ctx)
	if err != nil {
		return st, err
	}
	for _, t := range tenants {
		b, err := g.Backend(t.Storage)
		if err != nil {
			return st, fmt.Errorf("reindex tenant %q: %w", t.Name, err)
		}
		old := map[string]store.TreeEntry{}
		if err := g.Store.Tree(ctx, t.ID, "/", func(e store.TreeEntry) error { old[e.Path] = e; return nil }); err != nil {
			return st, err
		}
		var entries []store.TreeEntry
		walk := func(tenantPath string, fi hostapi.FileInfo) error {
			e := store.TreeEntry{Path: tenantPath, Type: "dir", Modified: fi.ModTime.UnixMilli(), Protocol: "reindex", Account: "system"}
			if prev, ok := old[tenantPath]; ok {
				e.Protocol, e.Account = prev.Protocol, prev.Account
			}
			if fi.IsDir {
				st.Dirs++
			} else {
				st.Files++
				e.Type, e.Size = "file", fi.Size
				if prev, ok := old[tenantPath]; ok && prev.Type == "file" && prev.Size == fi.Size && prev.Modified == e.Modified && prev.SHA256 != "" {
					e.SHA256 = prev.SHA256
				} else {
					sum, err := hashFile(ctx, b, path.Join(t.StorageRoot, tenantPath))
					if err != nil {
						return err
					}
					e.SHA256 = sum
					st.Hashed++
				}
			}
			entries = append(entries, e)
			if progress != nil && len(entries)%1000 == 0 {
				progress(st)
			}
			return nil
		}
		if err := walkStorage(ctx, b, t.StorageRoot, "/", walk); err != nil {
			return st, fmt.Errorf("reindex tenant %q: %w", t.Name, err)
		}
		if err := g.Store.ReplaceTree(ctx, t.ID, entries); err != nil {
			return st, err
		}
		st.Tenants++
	}
	return st, nil
}

// walkStorage calls fn for every descendant of dir (a path below root), page by page.
func walkStorage(ctx context.Context, b hostapi.Storage, root, dir string, fn func(string, hostapi.FileInfo) error) error {
	cursor := ""
	for {
		pg, err := b.List(ctx, path.Join(root, dir), hostapi.ListOptions{Cursor: cursor, Limit: 1000})
		if err != nil {
			return err
		}
		for _, fi := range pg.Entries {
			p := path.Join(dir, fi.Name)
			if err := fn(p, fi); err != nil {
				return err
			}
			if fi.IsDir {
				if err := walkStorage(ctx, b, root, p, fn); err != nil {
					return err
				}
			}
		}
		if pg.NextCursor == "" {
			return nil
		}
		cursor = pg.NextCursor
	}
}

func hashFile(ctx context.Context, b hostapi.Storage, name string) (string, error) {
	rc, err := b.Open(ctx, name, 0)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", fmt.Errorf("hash %q: %w", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
