// Package gateway assembles Filegate: it initialises a data directory, opens the store
// and the storage backends, and runs every front end until its context ends.
package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/filegate/filegate/core/accounts"
	"github.com/filegate/filegate/core/auth"
	"github.com/filegate/filegate/core/config"
	"github.com/filegate/filegate/core/store"
	"golang.org/x/crypto/ssh"
)

// Files in the data directory.
const (
	StoreFile      = "filegate.db"
	HostKeyEd25519 = "ssh_host_ed25519_key"
	HostKeyRSA     = "ssh_host_rsa_key"
	TLSCert        = "tls_cert.pem"
	TLSKey         = "tls_key.pem"
)

// InitResult is what init prints: the admin REST API account and the listeners.
// SecretKey is empty when the directory was initialised before.
type InitResult struct {
	AssociationKey string `json:"AssociationKey"`
	AccessKey      string `json:"AccessKey"`
	SecretKey      string `json:"SecretKey"`
	HTTP           string `json:"http"`
	FTP            string `json:"ftp"`
	SFTP           string `json:"sftp"`
	Created        bool   `json:"-"`
}

// Init prepares dir: gateway.toml (an existing one is read, never overwritten), the data
// directory, SSH host keys, TLS certificate, the store, a tenant and an admin REST API
// account with every scope. On a directory that is already initialised it creates
// nothing and returns the tenant's AssociationKey with no keys.
func Init(ctx context.Context, dir string) (*config.Config, InitResult, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, InitResult{}, fmt.Errorf("init: %w", err)
	}
	cfgPath := filepath.Join(dir, "gateway.toml")
	if _, err := os.Stat(cfgPath); errors.Is(err, fs.ErrNotExist) {
		if err := os.WriteFile(cfgPath, []byte(config.DefaultTOML), 0o644); err != nil {
			return nil, InitResult{}, fmt.Errorf("init: write %s: %w", cfgPath, err)
		}
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, InitResult{}, err
	}
	res, err := Prepare(ctx, cfg)
	return cfg, res, err
}

// Prepare makes sure cfg's data directory holds everything serve needs, creating what is
// missing (see Init).
func Prepare(ctx context.Context, cfg *config.Config) (InitResult, error) {
	data := cfg.DataPath()
	if err := os.MkdirAll(data, 0o700); err != nil {
		return InitResult{}, fmt.Errorf("init: %w", err)
	}
	if err := EnsureHostKeys(data); err != nil {
		return InitResult{}, err
	}
	if err := ensureTLSCert(data); err != nil {
		return InitResult{}, err
	}
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return InitResult{}, err
	}
	defer st.Close()
	res := InitResult{HTTP: cfg.HTTP.Listen, FTP: cfg.FTP.Listen, SFTP: cfg.SFTP.Listen}
	tenants, err := st.Tenants(ctx)
	if err != nil {
		return res, err
	}
	if len(tenants) > 0 {
		res.AssociationKey = tenants[0].AssociationKey
		return res, nil
	}
	t, err := st.CreateTenant(ctx, "default", "default", "/")
	if err != nil {
		return res, err
	}
	svc := &accounts.Service{Store: st}
	acct, secret, err := svc.CreateAPIAccount(ctx, t.ID, nil, accounts.NewAPIAccount{Scopes: auth.AllScopes, Description: "admin (created by init)"})
	if err != nil {
		return res, err
	}
	res.AssociationKey, res.AccessKey, res.SecretKey, res.Created = t.AssociationKey, acct.AccessKey, secret, true
	return res, nil
}

// OpenStore opens the store cfg names.
func OpenStore(ctx context.Context, cfg *config.Config) (*store.Store, error) {
	dsn := cfg.Store.DSN
	if cfg.Store.Driver == "sqlite" {
		if dsn == "" {
			dsn = filepath.Join(cfg.DataPath(), StoreFile)
		} else {
			dsn = cfg.Resolve(dsn)
		}
	}
	return store.Open(ctx, cfg.Store.Driver, dsn)
}

// EnsureHostKeys writes the SSH host keys (Ed25519 and RSA) into dir unless they exist.
func EnsureHostKeys(dir string) error {
	if err := writeKeyOnce(filepath.Join(dir, HostKeyEd25519), func() (any, error) {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}); err != nil {
		return err
	}
	return writeKeyOnce(filepath.Join(dir, HostKeyRSA), func() (any, error) { return rsa.GenerateKey(rand.Reader, 3072) })
}

func writeKeyOnce(path string, gen func() (any, error)) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	k, err := gen()
	if err != nil {
		return fmt.Errorf("init: generate %s: %w", path, err)
	}
	block, err := ssh.MarshalPrivateKey(k, "filegate host key")
	if err != nil {
		return fmt.Errorf("init: encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	return nil
}

// ensureTLSCert writes a self-signed ECDSA certificate for localhost, valid ten years.
func ensureTLSCert(dir string) error {
	certPath, keyPath := filepath.Join(dir, TLSCert), filepath.Join(dir, TLSKey)
	if _, err := os.Stat(certPath); err == nil {
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("init: tls key: %w", err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "filegate", Organization: []string{"Filegate self-signed"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost", host},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("init: tls certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("init: tls key: %w", err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	return os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}
