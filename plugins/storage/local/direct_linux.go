package local

import (
	"os"
	"syscall"
)

// openDirect opens the file name in dir for writing with O_DIRECT (a variable: tests
// make it fail as a file system that refuses O_DIRECT does).
var openDirect = func(dir *os.Root, name string) (*os.File, error) {
	return dir.OpenFile(name, os.O_WRONLY|syscall.O_DIRECT, 0)
}
