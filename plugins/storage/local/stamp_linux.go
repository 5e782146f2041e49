//go:build linux

package local

import (
	"io/fs"
	"syscall"
	"time"
)

// stampOf returns the stamp of the folder fi describes; false when the system does not
// report change times (the cache is then not used).
func stampOf(fi fs.FileInfo) (dirStamp, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return dirStamp{}, false
	}
	return dirStamp{
		dev:   uint64(st.Dev),
		ino:   uint64(st.Ino),
		mtime: time.Unix(st.Mtim.Unix()).UnixNano(),
		ctime: time.Unix(st.Ctim.Unix()).UnixNano(),
	}, true
}
