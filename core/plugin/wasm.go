package plugin

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/hostapi/v1/wire"
)

// maxResponse bounds what a module may hand back from one call.
const maxResponse = hostapi.MaxChunk + 1<<20

// wasmPool runs one compiled module in a bounded pool of instances: each instance
// serves one call at a time (wazero instances are not safe for concurrent calls), and
// an instance whose call failed at the transport level (trap, exit, deadline) is
// closed and replaced by a fresh one on demand.
type wasmPool struct {
	path  string
	rt    wazero.Runtime
	cache wazero.CompilationCache // nil without a cache dir
	code  wazero.CompiledModule
	log   *slog.Logger

	idle  chan *wasmInstance // instances ready for a call
	slots chan struct{}      // one token per live instance
	gen   atomic.Uint64      // instances started
}

type wasmInstance struct {
	mod   api.Module
	alloc api.Function // fg_alloc, or fg_buffer when the module exports it
	call  api.Function
	out   *tail // the instance's stdout and stderr, for error messages
	stack [3]uint64

	// With fg_buffer, requests of up to bufCap bytes go to bufPtr without an export
	// call (each export call costs wazero a goroutine for the deadline); bufCap is 0
	// without fg_buffer.
	reuse          bool
	bufPtr, bufCap uint32
}

// minBuffer is the least the host asks fg_buffer for, so that small requests of
// varying sizes share one buffer.
const minBuffer = 4 << 10

// newWASM compiles the module at path (or loads it from the cache) and starts one
// instance, which also proves the module instantiates within the limits.
func newWASM(ctx context.Context, path, cacheDir string, limits Limits, log *slog.Logger) (*wasmPool, error) {
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the wasm module: %w", err)
	}
	rc := wazero.NewRuntimeConfig().
		WithCloseOnContextDone(true).
		WithMemoryLimitPages(uint32(min(limits.MemoryBytes/65536, 65536)))
	w := &wasmPool{path: path, log: log,
		idle: make(chan *wasmInstance, limits.Instances), slots: make(chan struct{}, limits.Instances)}
	if cacheDir != "" {
		if w.cache, err = wazero.NewCompilationCacheWithDir(cacheDir); err != nil {
			return nil, fmt.Errorf("opening the compilation cache %s: %w", cacheDir, err)
		}
		rc = rc.WithCompilationCache(w.cache)
	}
	w.rt = wazero.NewRuntimeWithConfig(ctx, rc)
	if err := w.setup(ctx, bin); err != nil {
		w.Close(ctx)
		return nil, err
	}
	return w, nil
}

func (w *wasmPool) setup(ctx context.Context, bin []byte) error {
	// WASI without preopened directories or sockets: clocks, random, stdio only.
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, w.rt); err != nil {
		return fmt.Errorf("wasi: %w", err)
	}
	i32 := api.ValueTypeI32
	_, err := w.rt.NewHostModuleBuilder("filegate").
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostCall), []api.ValueType{i32, i32, i32}, []api.ValueType{i32}).Export("host_call").
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostTake), []api.ValueType{i32}, nil).Export("host_take").
		Instantiate(ctx)
	if err != nil {
		return fmt.Errorf("host module: %w", err)
	}
	if w.code, err = w.rt.CompileModule(ctx, bin); err != nil {
		return fmt.Errorf("compiling %s: %w", w.path, err)
	}
	exports := w.code.ExportedFunctions()
	for _, name := range []string{"fg_alloc", "fg_call"} {
		if _, ok := exports[name]; !ok {
			return fmt.Errorf("%s is not a Filegate plugin: it exports no %s (build it with sdk.Serve and -buildmode=c-shared, see hostapi/v1/ABI.md)", w.path, name)
		}
	}
	w.slots <- struct{}{}
	inst, err := w.instantiate(ctx)
	if err != nil {
		<-w.slots
		return err
	}
	w.idle <- inst
	return nil
}

func (w *wasmPool) instantiate(ctx context.Context) (*wasmInstance, error) {
	out := &tail{}
	cfg := wazero.NewModuleConfig().
		WithName(""). // many instances of one module
		WithStartFunctions("_initialize").
		WithSysNanotime().WithSysWalltime().
		WithRandSource(rand.Reader).
		WithStdout(out).WithStderr(out)
	mod, err := w.rt.InstantiateModule(ctx, w.code, cfg)
	if err != nil {
		return nil, fmt.Errorf("instantiating %s: %w%s", w.path, err, out.suffix())
	}
	w.gen.Add(1)
	inst := &wasmInstance{mod: mod, alloc: mod.ExportedFunction("fg_alloc"), call: mod.ExportedFunction("fg_call"), out: out}
	if buf := mod.ExportedFunction("fg_buffer"); buf != nil {
		inst.alloc, inst.reuse = buf, true
	}
	return inst, nil
}

// Generation counts the instances started (wire.Restartable): with one instance, as
// storage plugins run, a new generation holds none of the previous one's state.
func (w *wasmPool) Generation() uint64 { return w.gen.Load() }

// acquire takes an idle instance, or starts one if the pool has room, or waits.
func (w *wasmPool) acquire(ctx context.Context) (*wasmInstance, error) {
	select {
	case inst := <-w.idle:
		return inst, nil
	default:
	}
	select {
	case inst := <-w.idle:
		return inst, nil
	case w.slots <- struct{}{}:
		inst, err := w.instantiate(ctx)
		if err != nil {
			<-w.slots
			return nil, err
		}
		return inst, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for a free instance (%d busy): %w", cap(w.slots), context.Cause(ctx))
	}
}

// discard closes a broken instance and frees its slot.
func (w *wasmPool) discard(inst *wasmInstance) {
	inst.mod.Close(context.Background())
	<-w.slots
}

// callState is what host functions need during one call; it travels in the context.
type callState struct {
	host    hostapi.Host
	pending []byte // the response of the last host_call, until host_take
}

type callKey struct{}

// Call implements wire.Conn.
func (w *wasmPool) Call(ctx context.Context, host hostapi.Host, method wire.Method, req []byte) ([]byte, error) {
	inst, err := w.acquire(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := inst.invoke(context.WithValue(ctx, callKey{}, &callState{host: host}), method, req)
	if err != nil {
		w.discard(inst)
		err = w.explain(ctx, inst, method, err)
		w.log.Warn("wasm instance replaced", "module", w.path, "err", err)
		return nil, err
	}
	w.idle <- inst
	return resp, nil
}

func (inst *wasmInstance) invoke(ctx context.Context, method wire.Method, req []byte) ([]byte, error) {
	inst.out.reset()
	ptr, err := inst.buffer(ctx, uint32(len(req)))
	if err != nil {
		return nil, err
	}
	mem := inst.mod.Memory()
	if !mem.Write(ptr, req) {
		return nil, fmt.Errorf("fg_alloc(%d) returned %#x, outside the module's memory: %w", len(req), ptr, errABI)
	}
	s := inst.stack[:]
	s[0], s[1], s[2] = uint64(method), uint64(ptr), uint64(len(req))
	if err := inst.call.CallWithStack(ctx, s); err != nil {
		return nil, err
	}
	rptr, rlen := uint32(s[0]>>32), uint32(s[0])
	if rlen > maxResponse {
		return nil, fmt.Errorf("fg_call returned a %d-byte response (at most %d): %w", rlen, maxResponse, errABI)
	}
	resp, ok := mem.Read(rptr, rlen)
	if !ok {
		return nil, fmt.Errorf("fg_call returned [%#x, +%d), outside the module's memory: %w", rptr, rlen, errABI)
	}
	return bytes.Clone(resp), nil
}

// buffer returns where to write a request of n bytes: the instance's fg_buffer buffer
// when it is large enough, else a new one from fg_buffer or fg_alloc.
func (inst *wasmInstance) buffer(ctx context.Context, n uint32) (uint32, error) {
	if inst.reuse && n <= inst.bufCap {
		return inst.bufPtr, nil
	}
	size := n
	if inst.reuse {
		size = max(n, minBuffer)
	}
	s := inst.stack[:]
	s[0] = uint64(size)
	if err := inst.alloc.CallWithStack(ctx, s); err != nil {
		return 0, err
	}
	if inst.reuse {
		inst.bufPtr, inst.bufCap = uint32(s[0]), size
	}
	return uint32(s[0]), nil
}

var errABI = errors.New("ABI violation")

// explain turns a failed invocation into an error that says what happened.
func (w *wasmPool) explain(ctx context.Context, inst *wasmInstance, method wire.Method, err error) error {
	var exit *sys.ExitError
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%s did not finish before its deadline (endless loop?); instance replaced: %w", method, context.Cause(ctx))
	case errors.As(err, &exit):
		return fmt.Errorf("%s: the module exited with code %d (a Go guest does on panic or out of memory)%s; instance replaced",
			method, exit.ExitCode(), inst.out.suffix())
	case errors.Is(err, errABI):
		return fmt.Errorf("%s: %w; instance replaced", method, err)
	}
	msg, _, _ := strings.Cut(err.Error(), "\n") // not wazero's stack trace
	return fmt.Errorf("%s trapped: %s%s; instance replaced", method, msg, inst.out.suffix())
}

// Close closes every instance and the runtime.
func (w *wasmPool) Close(ctx context.Context) error {
	err := w.rt.Close(ctx)
	if w.cache != nil {
		err = errors.Join(err, w.cache.Close(ctx))
	}
	return err
}

// hostCall is the import filegate.host_call(op, ptr, len) → response length.
func hostCall(ctx context.Context, mod api.Module, stack []uint64) {
	op, ptr, n := wire.HostOp(uint32(stack[0])), uint32(stack[1]), uint32(stack[2])
	cs, _ := ctx.Value(callKey{}).(*callState)
	if cs == nil {
		panic(fmt.Errorf("%w: host_call outside fg_call (from _initialize?)", errABI))
	}
	req, ok := mod.Memory().Read(ptr, n)
	if !ok {
		panic(fmt.Errorf("%w: host_call request [%#x, +%d) is outside the module's memory", errABI, ptr, n))
	}
	if cs.host == nil {
		cs.pending = wire.Fail(fmt.Errorf("%w: no host calls while the host reads the manifest", hostapi.ErrInvalid))
	} else {
		cs.pending = wire.ServeHost(ctx, cs.host, op, req)
	}
	stack[0] = uint64(len(cs.pending))
}

// hostTake is the import filegate.host_take(ptr): copy the pending response to ptr.
func hostTake(ctx context.Context, mod api.Module, stack []uint64) {
	cs, _ := ctx.Value(callKey{}).(*callState)
	if cs == nil {
		panic(fmt.Errorf("%w: host_take outside fg_call", errABI))
	}
	if !mod.Memory().Write(uint32(stack[0]), cs.pending) {
		panic(fmt.Errorf("%w: host_take buffer %#x (+%d) is outside the module's memory", errABI, uint32(stack[0]), len(cs.pending)))
	}
	cs.pending = nil
}

// tail keeps the first bytes an instance wrote during its current call (where a Go
// guest's "fatal error: ..." line is).
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailMax = 2048

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p[:min(len(p), tailMax-len(t.buf))]...)
	return len(p), nil
}

func (t *tail) reset() {
	t.mu.Lock()
	t.buf = t.buf[:0]
	t.mu.Unlock()
}

// suffix is ": output: ..." with the first lines of what the module printed, or "".
func (t *tail) suffix() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := bytes.TrimSpace(t.buf)
	if len(out) == 0 {
		return ""
	}
	lines := bytes.SplitN(out, []byte("\n"), 4)
	return "; module output: " + string(bytes.Join(lines[:min(len(lines), 3)], []byte(" | ")))
}
