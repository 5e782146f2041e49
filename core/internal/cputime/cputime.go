// Package cputime reads the CPU time a process has used, for benchmarks that report
// CPU per operation beside wall time (on a machine whose client shares the cores, CPU
// is the figure that does not depend on who else was scheduled).
package cputime

import (
	"syscall"
	"time"
)

// Process returns the user and system CPU time this process has used, all threads
// together; 0 if the system does not say.
func Process() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
