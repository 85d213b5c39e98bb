//go:build !linux

package dist

import "syscall"

// rankProcAttr puts a rank in a process group of its own, so that a
// terminal's Ctrl-C reaches the launcher alone, which forwards it to rank 0.
// (Only Linux can also have a rank killed when the launcher dies.)
func rankProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
