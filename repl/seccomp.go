//go:build linux && (amd64 || arm64)

package repl

import (
	"fmt"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The seccomp filter of the Python process. It is assembled here, for the
// host's architecture, and sent to the bootstrap in the init frame; the
// bootstrap hands it to the kernel with seccomp(2) before any cell runs, and
// from then on nothing the process does can remove it.
//
// It is a deny list: the interpreter and the libraries a cell may import make
// too many ordinary system calls for an allow list to stay correct across
// Python versions. What it denies is what lets code act outside its own
// process: creating processes or running programs, sockets, debugging or
// signalling other processes, changing their scheduling, mounting and
// namespaces, kernel interfaces with a history of privilege escalation
// (bpf, perf_event_open, userfaultfd, io_uring, keyrings), anonymous memory
// files that escape RLIMIT_AS (memfd_create), and the ioctls that change file
// attributes. Every denied call fails with EPERM, except clone3, which fails
// with ENOSYS so that the C library falls back to clone, whose flags the
// filter can read. A call from another ABI (32-bit x86 through int 0x80, x32)
// is denied whatever it is.

// seccomp_data, as the filter sees it: the syscall number, the audit
// architecture, the instruction pointer and six 64-bit arguments. Loads are
// 32-bit and native-endian; the architectures supported are little-endian,
// so the low half of argument i is at argOffset(i).
const (
	seccompNrOffset   = 0
	seccompArchOffset = 4
)

func argOffset(i int) uint32 { return 16 + 8*uint32(i) }

const (
	retAllow  = unix.SECCOMP_RET_ALLOW
	retEPERM  = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	retENOSYS = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
)

// namespaceCloneFlags are the clone flags that create namespaces; clone's
// low byte is the exit signal, so CLONE_NEWTIME (0x80) cannot be passed to
// it and is not listed.
const namespaceCloneFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS |
	unix.CLONE_NEWIPC | unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET

// deniedSyscalls fail with EPERM whatever their arguments; archDenied (in
// the per-architecture files) adds the calls only some architectures have.
var deniedSyscalls = []uint32{
	// Running programs and creating processes (clone is filtered by flags).
	unix.SYS_EXECVE, unix.SYS_EXECVEAT,
	// Network.
	unix.SYS_SOCKET, unix.SYS_SOCKETPAIR,
	// Other processes: debugging, their memory, their descriptors, signals
	// through pidfds or to a bare thread id.
	unix.SYS_PTRACE, unix.SYS_PROCESS_VM_READV, unix.SYS_PROCESS_VM_WRITEV,
	unix.SYS_PROCESS_MADVISE, unix.SYS_PROCESS_MRELEASE, unix.SYS_KCMP,
	unix.SYS_PIDFD_OPEN, unix.SYS_PIDFD_GETFD, unix.SYS_PIDFD_SEND_SIGNAL, unix.SYS_TKILL,
	unix.SYS_MIGRATE_PAGES, unix.SYS_MOVE_PAGES,
	// Memory outside RLIMIT_AS.
	unix.SYS_MEMFD_CREATE, unix.SYS_MEMFD_SECRET,
	// Filesystems and namespaces.
	unix.SYS_CHROOT, unix.SYS_PIVOT_ROOT, unix.SYS_MOUNT, unix.SYS_UMOUNT2,
	unix.SYS_UNSHARE, unix.SYS_SETNS, unix.SYS_MOVE_MOUNT, unix.SYS_OPEN_TREE,
	unix.SYS_OPEN_TREE_ATTR, unix.SYS_FSOPEN, unix.SYS_FSCONFIG, unix.SYS_FSMOUNT,
	unix.SYS_FSPICK, unix.SYS_MOUNT_SETATTR, unix.SYS_OPEN_BY_HANDLE_AT,
	unix.SYS_NAME_TO_HANDLE_AT, unix.SYS_QUOTACTL, unix.SYS_QUOTACTL_FD,
	unix.SYS_FANOTIFY_INIT, unix.SYS_LOOKUP_DCOOKIE,
	// Kernel interfaces that are an attack surface of their own.
	unix.SYS_BPF, unix.SYS_PERF_EVENT_OPEN, unix.SYS_USERFAULTFD,
	unix.SYS_IO_URING_SETUP, unix.SYS_IO_URING_ENTER, unix.SYS_IO_URING_REGISTER,
	unix.SYS_KEYCTL, unix.SYS_ADD_KEY, unix.SYS_REQUEST_KEY,
	// The machine itself (these also need capabilities the process drops).
	unix.SYS_INIT_MODULE, unix.SYS_FINIT_MODULE, unix.SYS_DELETE_MODULE,
	unix.SYS_KEXEC_LOAD, unix.SYS_KEXEC_FILE_LOAD, unix.SYS_REBOOT,
	unix.SYS_SWAPON, unix.SYS_SWAPOFF, unix.SYS_ACCT, unix.SYS_SYSLOG, unix.SYS_VHANGUP,
	unix.SYS_SETTIMEOFDAY, unix.SYS_CLOCK_SETTIME, unix.SYS_CLOCK_ADJTIME, unix.SYS_ADJTIMEX,
	unix.SYS_SETHOSTNAME, unix.SYS_SETDOMAINNAME,
}

// deniedIoctls are the ioctl requests that change a file's attributes
// (immutable, append-only, project, version) or inject terminal input. The
// request is an unsigned int: the kernel ignores the upper half of the
// register, so the filter compares the lower half only.
var deniedIoctls = []uint32{
	unix.FS_IOC_SETFLAGS, fsIoc32SetFlags, fsIocFSSetXattr, fsIocSetVersion, fsIoc32SetVersion,
	unix.FS_IOC_SET_ENCRYPTION_POLICY, fsIocSetFSLabel, unix.TIOCSTI, unix.TIOCLINUX,
}

// Attribute ioctls that x/sys does not name, from linux/fs.h.
const (
	fsIoc32SetFlags   = 0x40046602 // _IOW('f', 2, int)
	fsIocSetVersion   = 0x40087602 // _IOW('v', 2, long)
	fsIoc32SetVersion = 0x40047602 // _IOW('v', 2, int)
	fsIocFSSetXattr   = 0x401c5820 // _IOW('X', 32, struct fsxattr)
	fsIocSetFSLabel   = 0x41009432 // _IOW(0x94, 50, char[256])
)

// seccompSupported reports whether a filter can be built for this
// architecture.
func seccompSupported() bool { return auditArch != 0 }

// seccompFilter assembles the filter for a process whose pid (as it sees
// itself, in its own pid namespace) is self: signals may go to self only,
// scheduling may change for self (or 0, the caller) only.
func seccompFilter(self int) ([]bpf.RawInstruction, error) {
	if !seccompSupported() {
		return nil, fmt.Errorf("seccomp: no filter for this architecture")
	}
	var p program
	p.load(seccompArchOffset)
	p.jumpIf(bpf.JumpEqual, auditArch, 1, 0)
	p.ret(retEPERM)
	p.load(seccompNrOffset)
	if x32SyscallBit != 0 {
		p.jumpIf(bpf.JumpGreaterOrEqual, x32SyscallBit, 0, 1)
		p.ret(retEPERM)
	}
	for _, nr := range append(deniedSyscalls, archDenied...) {
		p.deny(nr, retEPERM)
	}
	p.deny(unix.SYS_CLONE3, retENOSYS)

	// clone: threads only, and no namespaces even for them.
	p.when(unix.SYS_CLONE, func(b *program) {
		b.load(argOffset(0))
		b.jumpIf(bpf.JumpBitsSet, namespaceCloneFlags, 0, 1)
		b.ret(retEPERM)
		b.jumpIf(bpf.JumpBitsSet, unix.CLONE_THREAD, 0, 1)
		b.ret(retAllow)
		b.ret(retEPERM)
	})
	// Signals to this process only.
	for _, nr := range []uint32{unix.SYS_KILL, unix.SYS_TGKILL, unix.SYS_RT_SIGQUEUEINFO, unix.SYS_RT_TGSIGQUEUEINFO} {
		p.when(nr, func(b *program) { b.onlyPID(0, uint32(self), false) })
	}
	// Scheduling, priorities and limits of this process only.
	for _, nr := range []uint32{unix.SYS_SCHED_SETAFFINITY, unix.SYS_SCHED_SETSCHEDULER,
		unix.SYS_SCHED_SETPARAM, unix.SYS_SCHED_SETATTR, unix.SYS_PRLIMIT64} {
		p.when(nr, func(b *program) { b.onlyPID(0, uint32(self), true) })
	}
	p.when(unix.SYS_SETPRIORITY, func(b *program) {
		b.load(argOffset(0))
		b.jumpIf(bpf.JumpEqual, unix.PRIO_PROCESS, 1, 0)
		b.ret(retEPERM)
		b.onlyPID(1, uint32(self), true)
	})
	p.when(unix.SYS_IOPRIO_SET, func(b *program) {
		const ioprioWhoProcess = 1
		b.load(argOffset(0))
		b.jumpIf(bpf.JumpEqual, ioprioWhoProcess, 1, 0)
		b.ret(retEPERM)
		b.onlyPID(1, uint32(self), true)
	})
	p.when(unix.SYS_IOCTL, func(b *program) {
		b.load(argOffset(1))
		for _, req := range deniedIoctls {
			b.jumpIf(bpf.JumpEqual, req, 0, 1)
			b.ret(retEPERM)
		}
		b.ret(retAllow)
	})
	// Device nodes (FIFOs and regular files may still be made).
	for _, c := range mknodCalls {
		p.when(c.nr, func(b *program) {
			b.load(argOffset(c.modeArg))
			b.and(unix.S_IFMT)
			b.jumpIf(bpf.JumpEqual, unix.S_IFCHR, 1, 0)
			b.jumpIf(bpf.JumpEqual, unix.S_IFBLK, 0, 1)
			b.ret(retEPERM)
			b.ret(retAllow)
		})
	}
	p.ret(retAllow)
	return bpf.Assemble(p.insns)
}

// mknodCall is a system call that creates a file of the type in argument
// modeArg.
type mknodCall struct {
	nr      uint32
	modeArg int
}

// program is a classic BPF program under construction.
type program struct{ insns []bpf.Instruction }

func (p *program) load(off uint32) {
	p.insns = append(p.insns, bpf.LoadAbsolute{Off: off, Size: 4})
}

func (p *program) and(mask uint32) {
	p.insns = append(p.insns, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mask})
}

func (p *program) jumpIf(cond bpf.JumpTest, val uint32, skipTrue, skipFalse uint8) {
	p.insns = append(p.insns, bpf.JumpIf{Cond: cond, Val: val, SkipTrue: skipTrue, SkipFalse: skipFalse})
}

func (p *program) ret(v uint32) { p.insns = append(p.insns, bpf.RetConstant{Val: v}) }

// deny returns ret for system call nr; the accumulator holds the number.
func (p *program) deny(nr, ret uint32) {
	p.jumpIf(bpf.JumpEqual, nr, 0, 1)
	p.ret(ret)
}

// when runs the block, which must end in a return, for system call nr, and
// skips it otherwise. The block may change the accumulator only if it
// returns on every path, which blocks do.
func (p *program) when(nr uint32, block func(*program)) {
	var b program
	block(&b)
	if len(b.insns) > 255 {
		panic("repl: seccomp block too long for a conditional jump")
	}
	p.jumpIf(bpf.JumpEqual, nr, 0, uint8(len(b.insns)))
	p.insns = append(p.insns, b.insns...)
	// Later tests compare the syscall number again.
	p.load(seccompNrOffset)
}

// onlyPID allows the call when argument arg (a pid_t) is self, or 0 (the
// caller) when zeroIsSelf, and denies it otherwise.
func (b *program) onlyPID(arg int, self uint32, zeroIsSelf bool) {
	b.load(argOffset(arg))
	if zeroIsSelf {
		b.jumpIf(bpf.JumpEqual, 0, 1, 0)
	}
	b.jumpIf(bpf.JumpEqual, self, 0, 1)
	b.ret(retAllow)
	b.ret(retEPERM)
}
