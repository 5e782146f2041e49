//go:build !linux

package local

import "io/fs"

// stampOf reports false: change times are read only on Linux, so the listing cache is
// not used elsewhere.
func stampOf(fs.FileInfo) (dirStamp, bool) { return dirStamp{}, false }
