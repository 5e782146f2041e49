package plugin

import (
	"context"
	"fmt"
	"time"

	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/hostapi/v1/wire"
)

// Storage is the backend of a storage plugin loaded with LoadStorage, nil for other
// plugins. It stays usable until Close.
func (p *Plugin) Storage() hostapi.Storage { return p.storage }

// openStorage opens the backend of a storage plugin: a builtin one directly, a remote
// one through conn, which then also reports the optional calls the plugin serves.
func (p *Plugin) openStorage(ctx context.Context, conn remoteConn, config map[string]any) error {
	if config == nil {
		config = map[string]any{}
	}
	if conn == nil {
		sp := p.impl.(hostapi.StoragePlugin) // check made sure
		st, err := sp.OpenStorage(ctx, config)
		if err != nil {
			return err
		}
		if st == nil {
			return fmt.Errorf("OpenStorage returned no storage")
		}
		p.storage = st
		return nil
	}
	st, err := wire.NewStorage(ctx, &timedConn{p: p, conn: conn}, p.manifest, p.host)
	if err != nil {
		return err // the plugin's error says it was opening the storage
	}
	p.storage = st
	return nil
}

// slowStorageCall is the extra time a storage plugin's folder rename or start-up sweep
// may take: both copy, delete or list a whole folder, object by object on object
// storage. An interrupted folder rename is resumed by repeating it.
const slowStorageCall = time.Hour

// timedConn runs every call of a storage plugin under the plugin's per-call deadline
// (plus slowStorageCall for renames and sweeps; the caller's, if sooner) and names the plugin in transport errors.
//
// A caller's cancellation does not reach a call in flight: a cancelled wasm call would
// close the storage plugin's one instance, and a cancelled process call would kill the
// process, each losing every other caller's open reads and uploads. A call runs to
// its end or its deadline; a caller already done starts none.
type timedConn struct {
	p    *Plugin
	conn remoteConn
}

// Call implements wire.Conn.
func (c *timedConn) Call(ctx context.Context, host hostapi.Host, method wire.Method, req []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("plugin %q (%s) %s: %w", c.p.name, c.p.transport, method, err)
	}
	timeout := c.p.timeout
	if method == wire.MethodRename || method == wire.MethodSweepTemp {
		timeout += slowStorageCall
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	ctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer cancel()
	resp, err := c.conn.Call(ctx, host, method, req)
	if err != nil {
		return nil, fmt.Errorf("plugin %q (%s) %s: %w", c.p.name, c.p.transport, method, err)
	}
	return resp, nil
}

// Generation implements wire.Restartable.
func (c *timedConn) Generation() uint64 {
	if r, ok := c.conn.(wire.Restartable); ok {
		return r.Generation()
	}
	return 0
}
