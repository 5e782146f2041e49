package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// now is the store's clock; tests may replace it.
var now = func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// Tenant owns accounts, keys, storage and events; its AssociationKey identifies it.
type Tenant struct {
	ID             int64
	AssociationKey string
	Name           string
	Storage        string // the [[storage]] backend holding its files
	StorageRoot    string // its folder inside that backend
	CreatedAt      time.Time
}

// CreateTenant adds a tenant with a new random AssociationKey.
func (s *Store) CreateTenant(ctx context.Context, name, storage, root string) (Tenant, error) {
	t := Tenant{AssociationKey: newUUID(), Name: name, Storage: storage, StorageRoot: root, CreatedAt: now()}
	id, err := s.insertID(ctx, `INSERT INTO tenants (association_key, name, storage, storage_root, created_at) VALUES (?, ?, ?, ?, ?)`,
		t.AssociationKey, t.Name, t.Storage, t.StorageRoot, ms(t.CreatedAt))
	if err != nil {
		return Tenant{}, fmt.Errorf("store: create tenant %q: %w", name, err)
	}
	t.ID = id
	return t, nil
}

const (
	tenantCols  = `id, association_key, name, storage, storage_root, created_at`
	qTenantByID = `SELECT ` + tenantCols + ` FROM tenants WHERE id = ?`
)

func scanTenant(row interface{ Scan(...any) error }) (Tenant, error) {
	var t Tenant
	var created int64
	err := row.Scan(&t.ID, &t.AssociationKey, &t.Name, &t.Storage, &t.StorageRoot, &created)
	t.CreatedAt = fromMS(created)
	return t, err
}

// TenantByKey finds a tenant by its AssociationKey.
func (s *Store) TenantByKey(ctx context.Context, key string) (Tenant, error) {
	t, err := scanTenant(s.queryRow(ctx, `SELECT `+tenantCols+` FROM tenants WHERE association_key = ?`, key))
	return t, notFound(err, "tenant")
}

// Tenant finds a tenant by id.
func (s *Store) Tenant(ctx context.Context, id int64) (Tenant, error) {
	t, err := scanTenant(s.queryRow(ctx, qTenantByID, id))
	return t, notFound(err, "tenant")
}

// Tenants lists every tenant, oldest first.
func (s *Store) Tenants(ctx context.Context) ([]Tenant, error) {
	rows, err := s.query(ctx, `SELECT `+tenantCols+` FROM tenants ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// APIAccount is a REST API account: an AccessKey with a hashed SecretKey and scopes.
type APIAccount struct {
	ID          int64
	TenantID    int64
	AccessKey   string
	SecretHash  string
	Scopes      []string
	PathPrefix  string
	Description string
	ExpiresAt   time.Time // zero: never
	CreatedAt   time.Time
}

// Expired reports whether the account has expired at t.
func (a APIAccount) Expired(t time.Time) bool { return !a.ExpiresAt.IsZero() && !t.Before(a.ExpiresAt) }

// CreateAPIAccount stores a; a.ID and a.CreatedAt are set from the store.
func (s *Store) CreateAPIAccount(ctx context.Context, a APIAccount) (APIAccount, error) {
	a.CreatedAt = now()
	id, err := s.insertID(ctx, `INSERT INTO api_accounts (tenant_id, access_key, secret_hash, scopes, path_prefix, description, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		a.TenantID, a.AccessKey, a.SecretHash, strings.Join(a.Scopes, " "), a.PathPrefix, a.Description, ms(a.ExpiresAt), ms(a.CreatedAt))
	if err != nil {
		return APIAccount{}, fmt.Errorf("store: create REST API account: %w", err)
	}
	a.ID = id
	return a, nil
}

const (
	apiCols          = `id, tenant_id, access_key, secret_hash, scopes, path_prefix, description, expires_at, created_at`
	qAPIAccountByKey = `SELECT ` + apiCols + ` FROM api_accounts WHERE access_key = ?`
)

func scanAPI(row interface{ Scan(...any) error }) (APIAccount, error) {
	var a APIAccount
	var scopes string
	var exp, created int64
	err := row.Scan(&a.ID, &a.TenantID, &a.AccessKey, &a.SecretHash, &scopes, &a.PathPrefix, &a.Description, &exp, &created)
	a.Scopes, a.ExpiresAt, a.CreatedAt = splitList(scopes, " "), fromMS(exp), fromMS(created)
	return a, err
}

// APIAccountByKey finds a REST API account by AccessKey in any tenant.
func (s *Store) APIAccountByKey(ctx context.Context, accessKey string) (APIAccount, error) {
	a, err := scanAPI(s.queryRow(ctx, qAPIAccountByKey, accessKey))
	return a, notFound(err, "REST API account")
}

// APIAccounts lists a tenant's REST API accounts, oldest first, with the total.
func (s *Store) APIAccounts(ctx context.Context, tenantID int64, limit, offset int) ([]APIAccount, int, error) {
	var total int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM api_accounts WHERE tenant_id = ?`, tenantID).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.query(ctx, `SELECT `+apiCols+` FROM api_accounts WHERE tenant_id = ? ORDER BY id LIMIT ? OFFSET ?`, tenantID, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []APIAccount{}
	for rows.Next() {
		a, err := scanAPI(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, a)
	}
	return out, total, rows.Err()
}

// DeleteAPIAccount removes a tenant's REST API account; its tokens stop working at once.
func (s *Store) DeleteAPIAccount(ctx context.Context, tenantID int64, accessKey string) error {
	return s.deleteOne(ctx, "REST API account", `DELETE FROM api_accounts WHERE tenant_id = ? AND access_key = ?`, tenantID, accessKey)
}

func (s *Store) deleteOne(ctx context.Context, what, q string, args ...any) error {
	res, err := s.exec(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("store: delete %s: %w", what, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
}

// FTPAccount is a login for FTP, FTPS and SFTP.
type FTPAccount struct {
	ID            int64
	TenantID      int64
	Username      string
	PasswordHash  string
	SSHPublicKeys []string // authorized_keys lines
	AccessRights  string   // R, W or RW
	Chroot        string
	Description   string
	Enabled       bool
	AllowedIPs    []string // CIDRs; empty means any
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

const (
	ftpCols               = `id, tenant_id, username, password_hash, ssh_keys, access_rights, chroot, description, enabled, allowed_ips, created_at, updated_at`
	qFTPAccountByUsername = `SELECT ` + ftpCols + ` FROM ftp_accounts WHERE username = ?`
)

func scanFTP(row interface{ Scan(...any) error }) (FTPAccount, error) {
	var a FTPAccount
	var keys, ips string
	var enabled int
	var created, updated int64
	err := row.Scan(&a.ID, &a.TenantID, &a.Username, &a.PasswordHash, &keys, &a.AccessRights, &a.Chroot, &a.Description, &enabled, &ips, &created, &updated)
	a.SSHPublicKeys, a.AllowedIPs = splitList(keys, "\n"), splitList(ips, ",")
	a.Enabled, a.CreatedAt, a.UpdatedAt = enabled != 0, fromMS(created), fromMS(updated)
	return a, err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// CreateFTPAccount stores a. ErrDuplicate when the username is taken (in any tenant:
// a login names no tenant).
func (s *Store) CreateFTPAccount(ctx context.Context, a FTPAccount) (FTPAccount, error) {
	a.CreatedAt = now()
	a.UpdatedAt = a.CreatedAt
	id, err := s.insertID(ctx, `INSERT INTO ftp_accounts (tenant_id, username, password_hash, ssh_keys, access_rights, chroot, description, enabled, allowed_ips, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.TenantID, a.Username, a.PasswordHash, strings.Join(a.SSHPublicKeys, "\n"), a.AccessRights, a.Chroot, a.Description, boolInt(a.Enabled), strings.Join(a.AllowedIPs, ","), ms(a.CreatedAt), ms(a.UpdatedAt))
	if err != nil {
		return FTPAccount{}, fmt.Errorf("store: create FTP account %q: %w", a.Username, err)
	}
	a.ID = id
	return a, nil
}

// UpdateFTPAccount writes every field of a (matched by tenant and id).
func (s *Store) UpdateFTPAccount(ctx context.Context, a FTPAccount) (FTPAccount, error) {
	a.UpdatedAt = now()
	res, err := s.exec(ctx, `UPDATE ftp_accounts SET username = ?, password_hash = ?, ssh_keys = ?, access_rights = ?, chroot = ?, description = ?, enabled = ?, allowed_ips = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`,
		a.Username, a.PasswordHash, strings.Join(a.SSHPublicKeys, "\n"), a.AccessRights, a.Chroot, a.Description, boolInt(a.Enabled), strings.Join(a.AllowedIPs, ","), ms(a.UpdatedAt), a.TenantID, a.ID)
	if err != nil {
		if s.d.IsDuplicate(err) {
			return FTPAccount{}, fmt.Errorf("store: update FTP account: username %q: %w", a.Username, ErrDuplicate)
		}
		return FTPAccount{}, fmt.Errorf("store: update FTP account %d: %w", a.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return FTPAccount{}, fmt.Errorf("FTP account %d: %w", a.ID, ErrNotFound)
	}
	return a, nil
}

// FTPAccount finds one of a tenant's FTP accounts by id.
func (s *Store) FTPAccount(ctx context.Context, tenantID, id int64) (FTPAccount, error) {
	a, err := scanFTP(s.queryRow(ctx, `SELECT `+ftpCols+` FROM ftp_accounts WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return a, notFound(err, "FTP account")
}

// FTPAccountByUsername finds an FTP account by its login name, in any tenant.
func (s *Store) FTPAccountByUsername(ctx context.Context, username string) (FTPAccount, error) {
	a, err := scanFTP(s.queryRow(ctx, qFTPAccountByUsername, username))
	return a, notFound(err, "FTP account")
}

// FTPAccounts lists a tenant's FTP accounts by id, optionally only usernames starting
// with search, with the total that matches.
func (s *Store) FTPAccounts(ctx context.Context, tenantID int64, search string, limit, offset int) ([]FTPAccount, int, error) {
	like := escapeLike(search) + "%"
	var total int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM ftp_accounts WHERE tenant_id = ? AND username LIKE ? ESCAPE '\'`, tenantID, like).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.query(ctx, `SELECT `+ftpCols+` FROM ftp_accounts WHERE tenant_id = ? AND username LIKE ? ESCAPE '\' ORDER BY id LIMIT ? OFFSET ?`, tenantID, like, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []FTPAccount{}
	for rows.Next() {
		a, err := scanFTP(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, a)
	}
	return out, total, rows.Err()
}

// DeleteFTPAccount removes one of a tenant's FTP accounts.
func (s *Store) DeleteFTPAccount(ctx context.Context, tenantID, id int64) error {
	return s.deleteOne(ctx, "FTP account", `DELETE FROM ftp_accounts WHERE tenant_id = ? AND id = ?`, tenantID, id)
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// SigningKey returns the secret that signs bearer tokens, creating it on first use.
// It lives in the store so that every node sharing the store accepts every token.
func (s *Store) SigningKey(ctx context.Context) ([]byte, error) {
	var key []byte
	err := s.queryRow(ctx, `SELECT secret FROM signing_keys ORDER BY id LIMIT 1`).Scan(&key)
	if err == nil {
		return key, nil
	}
	if err != sql.ErrNoRows {
		return nil, fmt.Errorf("store: signing key: %w", err)
	}
	key = make([]byte, 32)
	rand.Read(key)
	if _, err := s.exec(ctx, `INSERT INTO signing_keys (secret, created_at) SELECT ?, ? WHERE NOT EXISTS (SELECT 1 FROM signing_keys)`, key, ms(now())); err != nil {
		return nil, fmt.Errorf("store: signing key: %w", err)
	}
	// Another node may have won the race: read back whichever key is first.
	if err := s.w.QueryRowContext(ctx, `SELECT secret FROM signing_keys ORDER BY id LIMIT 1`).Scan(&key); err != nil {
		return nil, fmt.Errorf("store: signing key: %w", err)
	}
	return key, nil
}

// newUUID returns a random RFC 4122 version 4 UUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
