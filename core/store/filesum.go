package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// qFileSum is FileSum's query (prepared at Open: see preparedReads).
const qFileSum = `SELECT size, modified, sha256 FROM tree WHERE tenant_id = ? AND path = ? AND type = 'file'`

// FileSum returns the size, modification time and SHA-256 the metadata tree holds for
// the file at p (a tenant path); sum is "" when the tree has no such file. It
// implements vfs.Sums: a download of a file that still matches its row takes its
// event's SHA-256 from here instead of hashing the bytes.
func (s *Store) FileSum(ctx context.Context, tenantID int64, p string) (size int64, modified time.Time, sum string, err error) {
	var msec int64
	err = s.queryRow(ctx, qFileSum,
		tenantID, p).Scan(&size, &msec, &sum)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, time.Time{}, "", nil
	case err != nil:
		return 0, time.Time{}, "", fmt.Errorf("store: file sum %q: %w", p, err)
	}
	return size, fromMS(msec), sum, nil
}
