package dist

import "syscall"

// rankProcAttr puts a rank in a process group of its own, so that a
// terminal's Ctrl-C reaches the launcher alone (which forwards it to rank
// 0, and every rank then stops after the same step), and has the kernel
// kill the rank if the launcher dies without killing it (kill -9 of the
// launcher must not leave ranks holding the GPUs). Pdeathsig follows the
// OS thread that started the rank; the Go runtime keeps its threads unless
// a goroutine exits while locked to one, which the launcher never does.
func rankProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
