//go:build unix

package bench

import "syscall"

// raiseNoFile raises the soft limit of open files to the hard one: one
// descriptor per simulated terminal, on both sides.
func raiseNoFile() {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
}
