//go:build wasip1

package sdk

import (
	"context"
	"unsafe"

	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/hostapi/v1/wire"
)

// The WASM ABI (hostapi/v1/ABI.md): the host writes a request into the buffer fg_alloc
// returns and calls fg_call; the response stays valid until the next call.
var (
	served   func(ctx context.Context, host hostapi.Host, m wire.Method, req []byte) []byte
	reqBuf   []byte
	respBuf  []byte
	hostBuf  []byte
	instHost = wire.NewHost(hostCall) // one per instance: caches the config
)

// Serve registers p behind the module's exports. Call it from an init function.
func Serve(p hostapi.Plugin) {
	if err := Check(p); err != nil {
		panic(err)
	}
	served = handler(p)
}

//go:wasmexport fg_alloc
func fgAlloc(size uint32) uint32 {
	if uint32(cap(reqBuf)) < size || cap(reqBuf) == 0 {
		reqBuf = make([]byte, max(size, 64))
	}
	reqBuf = reqBuf[:size]
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(reqBuf))))
}

// fgBuffer is fg_alloc with a longer promise: reqBuf stays as it is until the next
// fg_alloc or fg_buffer, so the host writes request after request into it.
//
//go:wasmexport fg_buffer
func fgBuffer(size uint32) uint32 { return fgAlloc(size) }

//go:wasmexport fg_call
func fgCall(method, ptr, size uint32) uint64 {
	var req []byte
	if size > 0 && uint32(uintptr(unsafe.Pointer(unsafe.SliceData(reqBuf)))) == ptr && int(size) <= cap(reqBuf) {
		req = reqBuf[:size]
	}
	if served == nil {
		respBuf = wire.Fail(hostapi.ErrUnimplemented)
	} else {
		respBuf = served(context.Background(), instHost, wire.Method(method), req)
	}
	return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(respBuf))))<<32 | uint64(len(respBuf))
}

//go:wasmimport filegate host_call
func hostCallImport(op uint32, ptr unsafe.Pointer, size uint32) uint32

//go:wasmimport filegate host_take
func hostTakeImport(ptr unsafe.Pointer)

func hostCall(_ context.Context, op wire.HostOp, req []byte) ([]byte, error) {
	n := hostCallImport(uint32(op), unsafe.Pointer(unsafe.SliceData(req)), uint32(len(req)))
	if uint32(cap(hostBuf)) < n {
		hostBuf = make([]byte, n)
	}
	out := hostBuf[:n]
	if n > 0 {
		hostTakeImport(unsafe.Pointer(unsafe.SliceData(out)))
	}
	// The caller decodes before the next host call; Blob copies what it keeps.
	return out, nil
}
