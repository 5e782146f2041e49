//go:build !linux

package local

import "os"

// startWriteback does nothing where sync_file_range(2) does not exist.
func startWriteback(*os.File) {}

// syncData flushes f to disk.
func syncData(f *os.File) error { return f.Sync() }
