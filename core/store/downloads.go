package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// MultiDownload is a prepared zip download: the paths a REST API account asked for.
type MultiDownload struct {
	ID        string
	TenantID  int64
	AccessKey string
	Paths     []string
	ExpiresAt time.Time
}

// CreateMultiDownload stores a prepared download with a new random id valid for ttl,
// and forgets expired ones.
func (s *Store) CreateMultiDownload(ctx context.Context, tenantID int64, accessKey string, paths []string, ttl time.Duration) (MultiDownload, error) {
	var b [16]byte
	rand.Read(b[:])
	d := MultiDownload{ID: hex.EncodeToString(b[:]), TenantID: tenantID, AccessKey: accessKey, Paths: paths, ExpiresAt: now().Add(ttl)}
	js, _ := json.Marshal(paths)
	if _, err := s.exec(ctx, `DELETE FROM multi_downloads WHERE expires_at < ?`, ms(now())); err != nil {
		return d, fmt.Errorf("store: multi download: %w", err)
	}
	if _, err := s.exec(ctx, `INSERT INTO multi_downloads (id, tenant_id, access_key, paths, expires_at) VALUES (?, ?, ?, ?, ?)`,
		d.ID, tenantID, accessKey, string(js), ms(d.ExpiresAt)); err != nil {
		return d, fmt.Errorf("store: multi download: %w", err)
	}
	return d, nil
}

// MultiDownload finds a prepared download that has not expired.
func (s *Store) MultiDownload(ctx context.Context, id string) (MultiDownload, error) {
	d := MultiDownload{ID: id}
	var js string
	var exp int64
	err := s.queryRow(ctx, `SELECT tenant_id, access_key, paths, expires_at FROM multi_downloads WHERE id = ? AND expires_at >= ?`, id, ms(now())).
		Scan(&d.TenantID, &d.AccessKey, &js, &exp)
	if err != nil {
		return d, notFound(err, "download "+id)
	}
	d.ExpiresAt = fromMS(exp)
	return d, json.Unmarshal([]byte(js), &d.Paths)
}
