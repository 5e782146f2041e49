package plugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"

	hostapi "github.com/filegate/filegate/hostapi/v1"
	gp "github.com/filegate/filegate/hostapi/v1/goplugin"
	"github.com/filegate/filegate/hostapi/v1/wire"
)

// Restart backoff of a crashed plugin process: none for the first crash, then
// doubling from backoffMin up to backoffMax; a successful call resets it.
const (
	backoffMin = 100 * time.Millisecond
	backoffMax = 30 * time.Second
)

// process is a plugin executable served by go-plugin, started at load and restarted
// after a crash. A call that misses its deadline kills the process (its work cannot
// be stopped otherwise); the next call starts a new one.
type process struct {
	path string
	log  *slog.Logger

	mu       sync.Mutex
	client   *goplugin.Client
	conn     *gp.Conn
	crashes  int       // consecutive crashes
	retryAt  time.Time // no restart before this
	lastFail error

	gen atomic.Uint64 // process starts
}

func newProcess(path string, log *slog.Logger) (*process, error) {
	p := &process{path: path, log: log}
	if _, err := p.get(); err != nil {
		return nil, err
	}
	return p, nil
}

// get returns the running process's connection, starting one if there is none.
func (p *process) get() (*gp.Conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client != nil && !p.client.Exited() {
		return p.conn, nil
	}
	if p.client != nil { // it died since the last call
		p.failed(errors.New("the plugin process exited"))
	}
	if wait := time.Until(p.retryAt); wait > 0 {
		return nil, fmt.Errorf("plugin process %s is down after %d crashes (last: %v); next restart in %s",
			p.path, p.crashes, p.lastFail, wait.Round(time.Millisecond))
	}
	if err := p.start(); err != nil {
		p.failed(err)
		return nil, err
	}
	return p.conn, nil
}

func (p *process) start() error {
	out := &lineLogger{log: p.log}
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  gp.Handshake,
		VersionedPlugins: gp.Plugins(),
		Cmd:              exec.Command(p.path),
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolNetRPC},
		StartTimeout:     10 * time.Second,
		Logger: hclog.New(&hclog.LoggerOptions{Name: "plugin", Level: hclog.Warn, Output: out,
			DisableTime: true}),
		SyncStderr: out,
	})
	rpcClient, err := client.Client()
	if err != nil {
		client.Kill()
		return fmt.Errorf("starting plugin process %s: %w", p.path, err)
	}
	raw, err := rpcClient.Dispense(gp.Name)
	if err != nil {
		client.Kill()
		return fmt.Errorf("plugin process %s: %w", p.path, err)
	}
	conn, ok := raw.(*gp.Conn)
	if !ok {
		client.Kill()
		return fmt.Errorf("plugin process %s: unexpected dispensed type %T", p.path, raw)
	}
	if err := conn.Start(); err != nil {
		client.Kill()
		return err
	}
	p.client, p.conn = client, conn
	p.gen.Add(1)
	return nil
}

// Generation counts the process starts (wire.Restartable): a new process holds none
// of the previous one's open files.
func (p *process) Generation() uint64 { return p.gen.Load() }

// failed records a crash (p.mu held) and schedules the next restart.
func (p *process) failed(err error) {
	if p.client != nil {
		p.client.Kill()
		p.client, p.conn = nil, nil
	}
	p.crashes++
	p.lastFail = err
	wait := time.Duration(0)
	if p.crashes > 1 {
		wait = min(backoffMin<<min(p.crashes-2, 20), backoffMax)
	}
	p.retryAt = time.Now().Add(wait)
	p.log.Error("plugin process failed; it will be restarted", "path", p.path, "crashes", p.crashes,
		"restart_in", wait, "err", err)
}

// Call implements wire.Conn.
func (p *process) Call(ctx context.Context, host hostapi.Host, method wire.Method, req []byte) ([]byte, error) {
	conn, err := p.get()
	if err != nil {
		return nil, err
	}
	resp, err := conn.Call(ctx, host, method, req)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		p.crashes = 0
		return resp, nil
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		// The caller gave up: the process may well be fine, and its other calls with
		// it. A process that did die is noticed by the next call.
		return nil, err
	}
	if p.conn == conn { // not already replaced by a concurrent call
		if ctx.Err() != nil {
			err = fmt.Errorf("%w; the plugin process was killed", err)
		}
		p.failed(err)
	}
	return nil, err
}

// Close kills the process.
func (p *process) Close(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client != nil {
		p.client.Kill()
		p.client, p.conn = nil, nil
	}
	return nil
}

// lineLogger logs what a plugin process writes, line by line.
type lineLogger struct {
	log *slog.Logger
	mu  sync.Mutex
	buf []byte
}

func (l *lineLogger) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, b...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		if line := string(l.buf[:i]); line != "" {
			l.log.Warn("plugin process output", "line", line)
		}
		l.buf = l.buf[i+1:]
	}
	return len(b), nil
}
