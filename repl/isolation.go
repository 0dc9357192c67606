package repl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Isolation is how far [Start] goes to contain the Python process; see the
// package documentation (# Isolation) for what each level contains.
type Isolation int

const (
	// IsolationBestEffort, the default, applies every kernel layer this
	// machine offers and starts without those it lacks, logging one warning
	// that names them.
	IsolationBestEffort Isolation = iota
	// IsolationStrict refuses to start (an error wrapping [ErrIsolation])
	// unless every kernel layer is in force: namespaces, no_new_privs,
	// dropped capabilities, Landlock, seccomp and, for the scratch directory
	// Start creates, the private size-limited tmpfs.
	IsolationStrict
	// IsolationHookOnly applies no kernel layer: the audit hook, resource
	// limits and the process group only. It contains careless code, not an
	// attacker; it exists to compare and to debug.
	IsolationHookOnly
)

func (i Isolation) String() string {
	switch i {
	case IsolationBestEffort:
		return "best-effort"
	case IsolationStrict:
		return "strict"
	case IsolationHookOnly:
		return "hook-only"
	}
	return fmt.Sprintf("Isolation(%d)", int(i))
}

// ErrIsolation is wrapped by the error of a start that [IsolationStrict]
// refused because a kernel layer is missing.
var ErrIsolation = errors.New("repl: kernel isolation unavailable")

// Layers reports what contains the current Python process. The host plans
// the layers; the process applies them before any cell runs and reports
// what the kernel then says is in force (no_new_privs, seccomp and the
// capabilities are read back from /proc/self/status).
type Layers struct {
	Isolation Isolation
	// Namespaces the process runs in, of: user, mount, pid, net, ipc, uts,
	// cgroup. Empty when it shares the host's.
	Namespaces []string
	// DiskQuota is the size in bytes of the private tmpfs that holds the
	// scratch directory; 0 when the scratch directory is a directory of the
	// host's filesystem, limited only per file by [WithMaxFileSize].
	DiskQuota int64
	// Cgroup is the cgroup v2 directory that limits the process's memory
	// (page cache and shared memory included) and tasks; empty when only
	// rlimits ([WithMemoryLimit] and the others) apply.
	Cgroup string
	// CapabilitiesDropped: the process holds no capability, in any set.
	CapabilitiesDropped bool
	// NoNewPrivs: the process and its threads can never gain privileges.
	NoNewPrivs bool
	// Landlock is the Landlock ABI version of the filesystem ruleset in
	// force, 0 when none.
	Landlock int
	// Seccomp: the system call filter is in force.
	Seccomp bool
	// AuditHook: the CPython audit hook that turns most refusals into a
	// readable PermissionError is installed (always).
	AuditHook bool
	// Missing names the layers the isolation level asked for that are not in
	// force, each with the reason.
	Missing []string
}

// String is a one-line summary, as logged.
func (l Layers) String() string {
	var parts []string
	if len(l.Namespaces) > 0 {
		parts = append(parts, "namespaces("+strings.Join(l.Namespaces, ",")+")")
	}
	if l.DiskQuota > 0 {
		parts = append(parts, fmt.Sprintf("tmpfs scratch (%d MiB)", l.DiskQuota>>20))
	}
	if l.Cgroup != "" {
		parts = append(parts, "cgroup "+l.Cgroup)
	} else {
		parts = append(parts, "rlimits")
	}
	if l.CapabilitiesDropped {
		parts = append(parts, "no capabilities")
	}
	if l.NoNewPrivs {
		parts = append(parts, "no_new_privs")
	}
	if l.Landlock > 0 {
		parts = append(parts, fmt.Sprintf("landlock ABI %d", l.Landlock))
	}
	if l.Seccomp {
		parts = append(parts, "seccomp")
	}
	if l.AuditHook {
		parts = append(parts, "audit hook")
	}
	s := l.Isolation.String() + ": " + strings.Join(parts, ", ")
	if len(l.Missing) > 0 {
		s += "; missing: " + strings.Join(l.Missing, "; ")
	}
	return s
}

// WithIsolation sets the isolation level. Default [IsolationBestEffort].
func WithIsolation(level Isolation) Option { return func(c *config) { c.isolation = level } }

// WithScratchQuota sets the size of the private tmpfs that holds the scratch
// directory Start creates, when the process has a mount namespace: what its
// files may hold in all, in bytes (tmpfs pages are memory outside
// RLIMIT_AS, so this also bounds that). Default 256 MiB; 0 or less keeps the
// scratch directory on the host's filesystem. A directory given with
// [WithScratchDir] is never replaced by a tmpfs.
func WithScratchQuota(bytes int64) Option { return func(c *config) { c.scratchQuota = bytes } }

// DefaultScratchQuota is the default of [WithScratchQuota].
const DefaultScratchQuota = 256 << 20

// namespaceFlags are the namespaces the Python process is cloned into: its
// own user namespace (root inside, the host's user outside), so that it
// needs no privilege, and with it mount, pid, network, IPC, UTS and cgroup
// namespaces.
var namespaceFlags = []struct {
	flag uintptr
	name string
}{
	{unix.CLONE_NEWUSER, "user"}, {unix.CLONE_NEWNS, "mount"}, {unix.CLONE_NEWPID, "pid"},
	{unix.CLONE_NEWNET, "net"}, {unix.CLONE_NEWIPC, "ipc"}, {unix.CLONE_NEWUTS, "uts"},
	{unix.CLONE_NEWCGROUP, "cgroup"},
}

// namespaceAttr puts a new process in the namespaces above.
func namespaceAttr(attr *syscall.SysProcAttr) {
	for _, ns := range namespaceFlags {
		attr.Cloneflags |= ns.flag
	}
	attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
	attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	attr.GidMappingsEnableSetgroups = false
}

func namespaceNames() []string {
	names := make([]string, len(namespaceFlags))
	for i, ns := range namespaceFlags {
		names[i] = ns.name
	}
	return names
}

// sysNumbers are the system calls the bootstrap makes through ctypes, by
// number for this architecture (Landlock's are the same everywhere).
type sysNumbers struct {
	Mount   int `json:"mount"`
	Prctl   int `json:"prctl"`
	Capset  int `json:"capset"`
	Seccomp int `json:"seccomp"`
}

var hostSysNumbers = sysNumbers{Mount: unix.SYS_MOUNT, Prctl: unix.SYS_PRCTL, Capset: unix.SYS_CAPSET, Seccomp: unix.SYS_SECCOMP}

// confinePlan is what the bootstrap applies before any cell runs, in this
// order: mounts in the new namespaces (then the fork that leaves an init
// behind), rlimits, capabilities, no_new_privs, Landlock, seccomp.
type confinePlan struct {
	Namespaces   bool          `json:"namespaces"`
	Scratch      string        `json:"scratch"`
	ScratchQuota int64         `json:"scratch_quota,omitempty"`
	Kernel       bool          `json:"kernel"` // drop capabilities and set no_new_privs
	Landlock     *landlockPlan `json:"landlock,omitempty"`
	Seccomp      []byte        `json:"seccomp,omitempty"` // struct sock_filter[], native layout
	Self         int           `json:"self,omitempty"`    // the pid the filter was built for
	Syscalls     sysNumbers    `json:"syscalls"`
}

// childReport is what the bootstrap says it achieved; see confine in
// bootstrap.py.
type childReport struct {
	Namespaces   bool              `json:"namespaces"`
	ScratchQuota int64             `json:"scratch_quota"`
	Capabilities bool              `json:"capabilities"`
	NoNewPrivs   bool              `json:"no_new_privs"`
	Landlock     int               `json:"landlock"`
	Seccomp      bool              `json:"seccomp"`
	Errors       map[string]string `json:"errors"`
}

// sandboxPlan is what the host decided for one process, before it starts.
type sandboxPlan struct {
	level        Isolation
	namespaces   bool   // clone into new namespaces
	noNamespaces string // why not, when the level wanted them
	scratchQuota int64
	landlock     *landlockPlan
	seccomp      bool
	unavailable  []string // layers this host cannot offer at all, with the reason

	cgroupParent string // where the process's cgroup goes; "" for none
	cgroupMemory int64  // its memory.max, 0 for none
	cgroupTasks  int    // its pids.max
	cgroupDir    string // the cgroup the process started in
	noCgroup     string // why it did not, when one was planned
}

// planSandbox decides the layers for a new process of r.
func (r *REPL) planSandbox() sandboxPlan {
	p := sandboxPlan{level: r.cfg.isolation}
	if p.level == IsolationHookOnly {
		return p
	}
	p.namespaces = true
	if r.ownScratch {
		p.scratchQuota = max(r.cfg.scratchQuota, 0)
	}
	if abi := landlockABI(); abi > 0 {
		p.landlock = planLandlock(abi, r.scratch, r.readRoots)
	} else {
		p.unavailable = append(p.unavailable, "landlock: not supported by this kernel")
	}
	if p.seccomp = seccompSupported(); !p.seccomp {
		p.unavailable = append(p.unavailable, "seccomp: no filter for this architecture")
	}
	if r.cgroupErr != nil {
		p.unavailable = append(p.unavailable, "cgroup: "+r.cgroupErr.Error())
	}
	if p.cgroupParent = r.cgroupParent; p.cgroupParent != "" {
		if r.cfg.memoryLimit > 0 {
			p.cgroupMemory = r.cfg.memoryLimit + p.scratchQuota
		}
		p.cgroupTasks = cgroupTasks
		if r.cfg.maxProcesses > 0 {
			p.cgroupTasks = r.cfg.maxProcesses
		}
	}
	return p
}

// chooseCgroup decides, once per REPL, the cgroup v2 directory its
// processes' cgroups go under: the one given with WithCgroup, which must be
// usable, or the host's own if it delegates the controllers.
func (r *REPL) chooseCgroup() {
	if r.cfg.isolation == IsolationHookOnly {
		return
	}
	if dir := r.cfg.cgroup; dir != "" {
		if r.cgroupErr = checkCgroup(dir); r.cgroupErr == nil {
			r.cgroupParent = dir
		}
		return
	}
	if dir := findCgroup(); dir != "" && checkCgroup(dir) == nil {
		r.cgroupParent = dir
	}
}

// confinement is the plan sent to the bootstrap for a process that sees
// itself as pid self.
func (p sandboxPlan) confinement(scratch string, self int) (confinePlan, error) {
	c := confinePlan{Scratch: scratch, Syscalls: hostSysNumbers}
	if p.level == IsolationHookOnly {
		return c, nil
	}
	c.Namespaces = p.namespaces
	if p.namespaces {
		c.ScratchQuota = p.scratchQuota
	}
	c.Kernel = true
	c.Landlock = p.landlock
	if p.seccomp {
		prog, err := seccompFilter(self)
		if err != nil {
			return c, err
		}
		c.Seccomp = make([]byte, 0, 8*len(prog))
		for _, ins := range prog {
			c.Seccomp = binary.NativeEndian.AppendUint16(c.Seccomp, ins.Op)
			c.Seccomp = append(c.Seccomp, ins.Jt, ins.Jf)
			c.Seccomp = binary.NativeEndian.AppendUint32(c.Seccomp, ins.K)
		}
		c.Self = self
	}
	return c, nil
}

// layers combines the plan with what the process reported.
func (p sandboxPlan) layers(rep childReport) Layers {
	l := Layers{Isolation: p.level, AuditHook: true}
	missing := append([]string(nil), p.unavailable...)
	if p.level == IsolationHookOnly {
		return l
	}
	switch {
	case !p.namespaces:
		missing = append(missing, "namespaces: "+p.noNamespaces)
	case !rep.Namespaces:
		missing = append(missing, "namespaces: the process did not start in them")
	default:
		l.Namespaces = namespaceNames()
	}
	if p.scratchQuota > 0 && p.namespaces {
		l.DiskQuota = rep.ScratchQuota
	}
	if l.Cgroup = p.cgroupDir; p.noCgroup != "" {
		missing = append(missing, "cgroup: "+p.noCgroup)
	}
	fail := func(layer string) {
		why := rep.Errors[layer]
		if why == "" {
			why = "not in force"
		}
		missing = append(missing, layer+": "+why)
	}
	if e := rep.Errors["mounts"]; e != "" {
		missing = append(missing, "private scratch tmpfs and mounts: "+e)
	}
	if e := rep.Errors["threads"]; e != "" {
		missing = append(missing, "kernel layers: "+e)
	}
	if l.CapabilitiesDropped = rep.Capabilities; !l.CapabilitiesDropped {
		fail("capabilities")
	}
	if l.NoNewPrivs = rep.NoNewPrivs; !l.NoNewPrivs {
		fail("no_new_privs")
	}
	if p.landlock != nil {
		if l.Landlock = rep.Landlock; l.Landlock == 0 {
			fail("landlock")
		}
	}
	if p.seccomp {
		if l.Seccomp = rep.Seccomp; !l.Seccomp {
			fail("seccomp")
		}
	}
	l.Missing = missing
	return l
}
