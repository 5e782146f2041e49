// Package goplugin is the process transport of host API v1 on
// github.com/hashicorp/go-plugin (net/rpc): the handshake both sides share, the
// plugin-side server (Serve) and the host-side connection (Conn).
//
// Each plugin call is one RPC carrying the same framed wire messages as the WASM ABI.
// The host serves the plugin's host calls on a connection the plugin dials back
// through go-plugin's MuxBroker; each host call names the plugin call it belongs to,
// so the host answers it with that call's grants and context, and refuses it once the
// call is over.
package goplugin

import (
	"context"
	"errors"
	"fmt"
	"net/rpc"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-plugin"

	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/hostapi/v1/wire"
)

// ProtocolVersion is the go-plugin protocol version: the host API's major version.
const ProtocolVersion = 1

// Handshake is the go-plugin handshake of Filegate plugins. The cookie only keeps a
// plugin executable from being run by hand by mistake; it is no security measure.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "FILEGATE_PLUGIN",
	MagicCookieValue: "7d1c6a52-filegate-hostapi",
}

// Name is the name the plugin is dispensed under.
const Name = "filegate"

// Plugins is the plugin set a host passes to go-plugin's ClientConfig.VersionedPlugins.
func Plugins() map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{ProtocolVersion: {Name: &rpcPlugin{}}}
}

// Handler serves one plugin call: wire.Serve bound to a plugin.
type Handler func(ctx context.Context, host hostapi.Host, method wire.Method, req []byte) []byte

// Serve serves handler as a plugin process until the host ends it.
func Serve(handler Handler) {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{ProtocolVersion: {Name: &rpcPlugin{handler: handler}}},
	})
}

// CallArgs is the RPC request of one plugin call.
type CallArgs struct {
	ID     uint64 // names the call in the host calls it makes
	Method uint32
	Req    []byte
}

// HostArgs is the RPC request of one host call.
type HostArgs struct {
	CallID uint64
	Op     uint32
	Req    []byte
}

type rpcPlugin struct{ handler Handler }

func (p *rpcPlugin) Server(b *plugin.MuxBroker) (any, error) {
	return &Server{broker: b, handler: p.handler}, nil
}

func (p *rpcPlugin) Client(b *plugin.MuxBroker, c *rpc.Client) (any, error) {
	return &Conn{broker: b, rpc: c, calls: map[uint64]inflight{}}, nil
}

// Server is the plugin side, served by go-plugin as the RPC object "Plugin".
type Server struct {
	broker  *plugin.MuxBroker
	handler Handler

	mu   sync.Mutex
	host *rpc.Client
}

// Init dials the host's host-call server the host announced on the broker.
func (s *Server) Init(brokerID uint32, _ *struct{}) error {
	conn, err := s.broker.Dial(brokerID)
	if err != nil {
		return fmt.Errorf("dialing the host's host-call server: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.host != nil {
		s.host.Close()
	}
	s.host = rpc.NewClient(conn)
	return nil
}

// Call runs one plugin call.
func (s *Server) Call(args CallArgs, resp *[]byte) error {
	s.mu.Lock()
	hc := s.host
	s.mu.Unlock()
	host := wire.NewHost(func(ctx context.Context, op wire.HostOp, req []byte) ([]byte, error) {
		if hc == nil {
			return nil, errors.New("the host did not initialise the plugin")
		}
		var out []byte
		err := hc.Call("Plugin.HostCall", HostArgs{CallID: args.ID, Op: uint32(op), Req: req}, &out)
		return out, err
	})
	*resp = s.handler(context.Background(), host, wire.Method(args.Method), args.Req)
	return nil
}

// Conn is the host side of a plugin process: a wire.Conn.
type Conn struct {
	broker *plugin.MuxBroker
	rpc    *rpc.Client
	next   atomic.Uint64

	mu    sync.Mutex
	calls map[uint64]inflight
}

type inflight struct {
	ctx  context.Context
	host hostapi.Host
}

// Start serves host calls on the broker and tells the plugin where. The serving
// goroutine ends when the plugin's connection closes (when the process is killed).
func (c *Conn) Start() error {
	id := c.broker.NextId()
	go c.broker.AcceptAndServe(id, &hostServer{c})
	if err := c.rpc.Call("Plugin.Init", id, &struct{}{}); err != nil {
		return fmt.Errorf("initialising the plugin process: %w", err)
	}
	return nil
}

// Call implements wire.Conn.
func (c *Conn) Call(ctx context.Context, host hostapi.Host, method wire.Method, req []byte) ([]byte, error) {
	id := c.next.Add(1)
	c.mu.Lock()
	c.calls[id] = inflight{ctx, host}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.calls, id)
		c.mu.Unlock()
	}()
	resp := new([]byte)
	call := c.rpc.Go("Plugin.Call", CallArgs{ID: id, Method: uint32(method), Req: req}, resp, make(chan *rpc.Call, 1))
	select {
	case <-call.Done:
		if call.Error != nil {
			return nil, fmt.Errorf("plugin process: %w", call.Error)
		}
		return *resp, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("plugin process did not answer %s in time: %w", method, context.Cause(ctx))
	}
}

type hostServer struct{ c *Conn }

// HostCall serves one host call of a running plugin call.
func (s *hostServer) HostCall(args HostArgs, resp *[]byte) error {
	s.c.mu.Lock()
	call, ok := s.c.calls[args.CallID]
	s.c.mu.Unlock()
	if !ok || call.host == nil {
		*resp = wire.Fail(fmt.Errorf("%w: host call %s outside a plugin call (or during Manifest)",
			hostapi.ErrInvalid, wire.HostOp(args.Op)))
		return nil
	}
	*resp = wire.ServeHost(call.ctx, call.host, wire.HostOp(args.Op), args.Req)
	return nil
}
