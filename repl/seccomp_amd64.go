package repl

import "golang.org/x/sys/unix"

const (
	auditArch = unix.AUDIT_ARCH_X86_64
	// x32SyscallBit marks the x32 ABI's system calls, whose numbers the
	// filter does not list: all of them are denied.
	x32SyscallBit = 0x40000000
)

// archDenied are denied calls that only this architecture has.
var archDenied = []uint32{unix.SYS_FORK, unix.SYS_VFORK, unix.SYS_IOPL, unix.SYS_IOPERM, unix.SYS_USELIB}

var mknodCalls = []mknodCall{{unix.SYS_MKNOD, 1}, {unix.SYS_MKNODAT, 2}}
