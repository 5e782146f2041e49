package plugin

import (
	"context"
	"sync"
)

// KV is the storage behind the host's per-plugin key-value calls. namespace is the
// plugin's name in gateway.toml, so two rules never see each other's keys.
// Implementations must copy value: it may point into a plugin's memory.
type KV interface {
	Get(ctx context.Context, namespace, key string) (value []byte, found bool, err error)
	Put(ctx context.Context, namespace, key string, value []byte) error
	Delete(ctx context.Context, namespace, key string) error
}

// MemoryKV is a KV in memory, for tests and single-run tools. The zero value is
// ready to use.
type MemoryKV struct {
	mu sync.Mutex
	m  map[[2]string][]byte
}

// Get implements KV.
func (m *MemoryKV) Get(_ context.Context, namespace, key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.m[[2]string{namespace, key}]
	return append([]byte(nil), v...), ok, nil
}

// Put implements KV.
func (m *MemoryKV) Put(_ context.Context, namespace, key string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[[2]string][]byte{}
	}
	m.m[[2]string{namespace, key}] = append([]byte(nil), value...)
	return nil
}

// Delete implements KV.
func (m *MemoryKV) Delete(_ context.Context, namespace, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, [2]string{namespace, key})
	return nil
}
