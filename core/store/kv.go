package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// PluginKV is the plugins' key-value store (the host calls kv.get, kv.put and
// kv.delete) in the plugin_kv table: it implements core/plugin's KV, so on
// PostgreSQL every node of a cluster sees the same keys. A namespace is a plugin's
// name in gateway.toml.
type PluginKV struct{ s *Store }

// PluginKV returns the store's plugin key-value store.
func (s *Store) PluginKV() *PluginKV { return &PluginKV{s: s} }

// Get returns the value of key in namespace; found is false for a missing key.
func (kv *PluginKV) Get(ctx context.Context, namespace, key string) ([]byte, bool, error) {
	var v []byte
	err := kv.s.queryRow(ctx, `SELECT value FROM plugin_kv WHERE namespace = ? AND key = ?`, namespace, key).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("store: kv get %s/%s: %w", namespace, key, err)
	}
	if v == nil {
		v = []byte{} // found, empty
	}
	return v, true, nil
}

// Put sets key in namespace to value, replacing what was there.
func (kv *PluginKV) Put(ctx context.Context, namespace, key string, value []byte) error {
	if value == nil {
		value = []byte{} // NOT NULL: an empty value is still a value
	}
	_, err := kv.s.exec(ctx, `INSERT INTO plugin_kv (namespace, key, value, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		namespace, key, value, ms(now()))
	if err != nil {
		return fmt.Errorf("store: kv put %s/%s: %w", namespace, key, err)
	}
	return nil
}

// Delete removes key from namespace; a missing key is no error.
func (kv *PluginKV) Delete(ctx context.Context, namespace, key string) error {
	if _, err := kv.s.exec(ctx, `DELETE FROM plugin_kv WHERE namespace = ? AND key = ?`, namespace, key); err != nil {
		return fmt.Errorf("store: kv delete %s/%s: %w", namespace, key, err)
	}
	return nil
}
