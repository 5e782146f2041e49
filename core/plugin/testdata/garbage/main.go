// Command garbage is a WASM module that speaks the ABI's exports without the sdk and
// answers every call but the manifest with nonsense, for the runtime's tests.
package main

import (
	"unsafe"

	hostapi "github.com/filegate/filegate/hostapi/v1"
	"github.com/filegate/filegate/hostapi/v1/wire"
)

var req, resp []byte

//go:wasmexport fg_alloc
func fgAlloc(size uint32) uint32 {
	req = make([]byte, size+1)
	return uint32(uintptr(unsafe.Pointer(&req[0])))
}

//go:wasmexport fg_call
func fgCall(method, ptr, size uint32) uint64 {
	switch {
	case method == uint32(wire.MethodManifest):
		resp = wire.OK(func(e *wire.Encoder) {
			wire.PutManifest(e, hostapi.Manifest{Name: "garbage", Kind: hostapi.KindRule, APIVersion: hostapi.Version})
		})
	case size > 0 && req[0] == 2: // event ID 1: a response pointer far outside memory
		return 0xfff00000<<32 | 16
	default: // an unknown code with a length past the end
		resp = []byte{0x7f, 0xff, 0xff, 0x03, 'x'}
	}
	return uint64(uintptr(unsafe.Pointer(&resp[0])))<<32 | uint64(len(resp))
}

func main() {}
