package repl

import "golang.org/x/sys/unix"

const (
	auditArch     = unix.AUDIT_ARCH_AARCH64
	x32SyscallBit = 0 // no second ABI on arm64
)

// archDenied are denied calls that only this architecture has: none (arm64
// has no fork, vfork, iopl or ioperm).
var archDenied []uint32

var mknodCalls = []mknodCall{{unix.SYS_MKNODAT, 2}}
