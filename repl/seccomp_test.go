//go:build linux && (amd64 || arm64)

package repl

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The seccomp filter, run by a BPF interpreter on system calls as the
// kernel would hand them to it.
func TestSeccompFilter(t *testing.T) {
	if !seccompSupported() {
		t.Skip("no seccomp filter for this architecture")
	}
	const self = 2
	prog, err := seccompFilter(self)
	require.NoError(t, err)
	insns := make([]bpf.Instruction, len(prog))
	for i, raw := range prog {
		insns[i] = raw.Disassemble()
	}
	vm, err := bpf.NewVM(insns)
	require.NoError(t, err)
	// The interpreter loads words big-endian from a packet; the kernel
	// loads them native-endian from seccomp_data. Each word is written
	// big-endian here, so that both read the same values.
	call := func(arch, nr uint32, args ...uint64) uint32 {
		data := make([]byte, 64)
		put := func(off int, v uint32) {
			data[off], data[off+1], data[off+2], data[off+3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
		}
		put(0, nr)
		put(4, arch)
		for i, a := range args {
			put(16+8*i, uint32(a))
			put(20+8*i, uint32(a>>32))
		}
		ret, err := vm.Run(data)
		require.NoError(t, err)
		return uint32(ret)
	}
	sys := func(nr uint32, args ...uint64) uint32 { return call(auditArch, nr, args...) }
	for _, tc := range []struct {
		name string
		ret  uint32
		got  uint32
	}{
		{"read", retAllow, sys(unix.SYS_READ, 0)},
		{"execve", retEPERM, sys(unix.SYS_EXECVE)},
		{"another architecture", retEPERM, call(0x40000003, unix.SYS_READ)},
		{"clone3", retENOSYS, sys(unix.SYS_CLONE3)},
		{"clone of a thread", retAllow, sys(unix.SYS_CLONE, unix.CLONE_VM|unix.CLONE_THREAD|unix.CLONE_SIGHAND)},
		{"clone of a process", retEPERM, sys(unix.SYS_CLONE, uint64(unix.SIGCHLD))},
		{"clone of a thread in a new namespace", retEPERM, sys(unix.SYS_CLONE, unix.CLONE_THREAD|unix.CLONE_NEWNET)},
		{"socket", retEPERM, sys(unix.SYS_SOCKET, unix.AF_UNIX)},
		{"kill self", retAllow, sys(unix.SYS_KILL, self, 2)},
		{"kill init", retEPERM, sys(unix.SYS_KILL, 1, 9)},
		{"kill own group", retEPERM, sys(unix.SYS_KILL, 0, 9)},
		{"kill everyone", retEPERM, sys(unix.SYS_KILL, uint64(0xffffffffffffffff), 9)},
		{"tgkill self", retAllow, sys(unix.SYS_TGKILL, self, 7, 2)},
		{"tkill", retEPERM, sys(unix.SYS_TKILL, 7, 2)},
		{"setpriority self", retAllow, sys(unix.SYS_SETPRIORITY, unix.PRIO_PROCESS, 0, 5)},
		{"setpriority another", retEPERM, sys(unix.SYS_SETPRIORITY, unix.PRIO_PROCESS, 1, 5)},
		{"setpriority a group", retEPERM, sys(unix.SYS_SETPRIORITY, unix.PRIO_PGRP, 0, 5)},
		{"sched_setaffinity self", retAllow, sys(unix.SYS_SCHED_SETAFFINITY, 0)},
		{"sched_setaffinity another", retEPERM, sys(unix.SYS_SCHED_SETAFFINITY, 1)},
		{"prlimit self", retAllow, sys(unix.SYS_PRLIMIT64, 0)},
		{"prlimit another", retEPERM, sys(unix.SYS_PRLIMIT64, 1)},
		{"ioctl TIOCINQ", retAllow, sys(unix.SYS_IOCTL, 3, unix.TIOCINQ)},
		{"ioctl FS_IOC_SETFLAGS", retEPERM, sys(unix.SYS_IOCTL, 3, unix.FS_IOC_SETFLAGS)},
		{"ioctl FS_IOC_SETFLAGS, upper half set", retEPERM, sys(unix.SYS_IOCTL, 3, 1<<32|unix.FS_IOC_SETFLAGS)},
		{"mknodat FIFO", retAllow, sys(unix.SYS_MKNODAT, 0, 0, unix.S_IFIFO|0o600)},
		{"mknodat device", retEPERM, sys(unix.SYS_MKNODAT, 0, 0, unix.S_IFCHR|0o600)},
		{"memfd_create", retEPERM, sys(unix.SYS_MEMFD_CREATE)},
		{"mount", retEPERM, sys(unix.SYS_MOUNT)},
		{"ptrace", retEPERM, sys(unix.SYS_PTRACE)},
	} {
		assert.Equal(t, tc.ret, tc.got, tc.name)
	}
	if x32SyscallBit != 0 {
		assert.Equal(t, uint32(retEPERM), sys(x32SyscallBit|unix.SYS_READ), "x32")
	}
}
