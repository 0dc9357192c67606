package repl_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/go-rlm/rlm/repl"
)

// The attack suite: one case per way past the audit hook that a review
// found, and per kernel layer. Every case first switches the audit hook off
// from inside the cell, through the bridge's own objects, as an attacker
// would; what contains it then is the kernel alone. Each case asserts that
// the action was refused by the kernel (not by the hook: its message never
// reads "repl sandbox") or stayed inside the sandbox, that the host is
// unharmed, and that the next cell works.

// hookOff disables the audit hook from inside a cell: it finds the hook's
// class among the garbage collector's objects and replaces the code of its
// method, and it puts back the native module loaders the bootstrap wrapped
// (their originals sit in the wrappers' closures).
const hookOff = `
def _hook_off():
    import gc, _imp
    for o in gc.get_objects():
        if type(o).__name__ == 'Sandbox':
            type(o).hook.__code__ = (lambda self, event, args: None).__code__
    for name in ('create_dynamic', 'exec_dynamic'):
        for cell in getattr(getattr(_imp, name), '__closure__', None) or ():
            if getattr(cell.cell_contents, '__name__', '') == name:
                setattr(_imp, name, cell.cell_contents)
_hook_off()
del _hook_off
`

// hookOffThroughFrames reaches the bridge's globals through the frames of
// the code that runs the cell instead.
const hookOffThroughFrames = `
import sys as _s
_f = _s._getframe()
while _f is not None and 'Sandbox' not in _f.f_globals:
    _f = _f.f_back
_f.f_globals['Sandbox'].hook.__code__ = (lambda self, event, args: None).__code__
del _s, _f
`

// freshModule loads the module name a second time, as a new module object
// bound to fresh: an extension module under another name (its init
// function is found by the last part of the name), a built-in one through
// its spec. Neither runs the bootstrap's disarming, nor raises the audit
// event of an import of name.
func freshModule(name string) string {
	return fmt.Sprintf(`import importlib.util
spec = importlib.util.find_spec(%[1]q)
if spec.origin != 'built-in':
    spec = importlib.util.spec_from_file_location('fresh.' + %[1]q, spec.origin)
fresh = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fresh)
`, name)
}

// attackEnv is what the host holds that the attacks aim at.
type attackEnv struct {
	victimDir string // readable by the REPL (WithReadPaths), never writable
	victim    string // a file in it
	outside   string // a path outside every root; nothing may create it
	listener  *net.TCPListener
	nice      int
	affinity  unix.CPUSet
	nofile    syscall.Rlimit
}

const victimText = "victim\n"

// Inode flags from linux/fs.h.
const (
	fsImmutableFl = 0x10
	fsAppendFl    = 0x20
)

func newAttackEnv(t *testing.T) *attackEnv {
	t.Helper()
	e := &attackEnv{victimDir: t.TempDir()}
	e.victim = filepath.Join(e.victimDir, "victim.txt")
	require.NoError(t, os.WriteFile(e.victim, []byte(victimText), 0o644))
	e.outside = filepath.Join(os.TempDir(), fmt.Sprintf("repl-attack-%d", time.Now().UnixNano()))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	e.listener = l.(*net.TCPListener)
	t.Cleanup(func() { l.Close(); os.Remove(e.outside) })
	e.nice, err = syscall.Getpriority(syscall.PRIO_PROCESS, 0)
	require.NoError(t, err)
	require.NoError(t, unix.SchedGetaffinity(0, &e.affinity))
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &e.nofile))
	return e
}

// unharmed asserts that nothing the host holds was touched.
func (e *attackEnv) unharmed(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile(e.victim)
	assert.NoError(t, err)
	assert.Equal(t, victimText, string(data), "the victim file is intact")
	entries, err := os.ReadDir(e.victimDir)
	require.NoError(t, err)
	var names []string
	for _, entry := range entries {
		names = append(names, entry.Name())
	}
	assert.Equal(t, []string{"victim.txt"}, names, "nothing was created in or removed from the readable directory")
	if f, err := os.Open(e.victim); assert.NoError(t, err) {
		flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
		f.Close()
		if err == nil && flags&(fsImmutableFl|fsAppendFl) != 0 {
			assert.Fail(t, "the victim file was made immutable or append-only")
			clearFlags(e.victim)
		}
	}
	_, err = os.Lstat(e.outside)
	assert.True(t, errors.Is(err, os.ErrNotExist), "nothing was created outside: %v", err)
	require.NoError(t, e.listener.SetDeadline(time.Now().Add(10*time.Millisecond)))
	if conn, err := e.listener.Accept(); err == nil {
		conn.Close()
		assert.Fail(t, "a connection reached the host's listener")
	}
	nice, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0)
	assert.NoError(t, err)
	assert.Equal(t, e.nice, nice, "the host's priority is unchanged")
	var affinity unix.CPUSet
	assert.NoError(t, unix.SchedGetaffinity(0, &affinity))
	assert.Equal(t, e.affinity, affinity, "the host's CPU affinity is unchanged")
	var nofile syscall.Rlimit
	assert.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile))
	assert.Equal(t, e.nofile, nofile, "the host's limits are unchanged")
}

func clearFlags(path string) {
	if f, err := os.Open(path); err == nil {
		_ = unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, 0)
		f.Close()
	}
}

// layer names a kernel layer a case needs.
type layer string

const (
	needSeccomp    layer = "seccomp"
	needLandlock   layer = "landlock"
	needNamespaces layer = "namespaces"
	needQuota      layer = "tmpfs quota"
)

func missingLayer(l repl.Layers, need []layer) string {
	for _, n := range need {
		switch {
		case n == needSeccomp && !l.Seccomp,
			n == needLandlock && l.Landlock == 0,
			n == needNamespaces && len(l.Namespaces) == 0,
			n == needQuota && l.DiskQuota == 0:
			return fmt.Sprintf("%s is not in force here (%s)", n, strings.Join(l.Missing, "; "))
		}
	}
	return ""
}

// startAttackREPL starts the strictest REPL this machine allows: strict
// where every layer exists (CI), else best effort, whose cases skip by
// layer.
func startAttackREPL(t *testing.T, e *attackEnv, opts ...repl.Option) *repl.REPL {
	t.Helper()
	opts = append([]repl.Option{repl.WithFunc("sub_call", countWord("roll")), repl.WithReadPaths(e.victimDir),
		repl.WithMemoryLimit(512 << 20)}, opts...)
	r, err := repl.Start(testContext(t), append(testOptions(t), append(opts, repl.WithIsolation(repl.IsolationStrict))...)...)
	if errors.Is(err, repl.ErrIsolation) {
		t.Logf("strict isolation is not available here, attacking best effort: %v", err)
		r, err = repl.Start(testContext(t), append(testOptions(t), opts...)...)
	}
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, r.Close()) })
	require.NoError(t, r.Set(testContext(t), "context", strings.Repeat("They roll. ", 100)))
	run(t, r, "kept = 'kept'")
	return r
}

func TestAttacksAreContainedByTheKernel(t *testing.T) {
	t.Parallel()
	env := newAttackEnv(t)
	py := func(s string) string { return pyString(s) }
	// Exception types that mean "refused": the kernel's EPERM and EACCES
	// both read PermissionError in Python.
	const refused = "PermissionError"
	cases := []struct {
		name string
		need []layer
		code string
		// excType is the exception the attack must end in ("" for none);
		// excText, if set, must appear in its message.
		excType, excText string
		// stdout, if set, is what the attack must print.
		stdout string
	}{
		// A native extension module loaded a second time under another name
		// is a fresh copy, with none of the bootstrap's disarming.
		{name: "_posixsubprocess loaded again runs a shell", need: []layer{needSeccomp},
			code: freshModule("_posixsubprocess") + `import subprocess
subprocess._fork_exec = fresh.fork_exec  # Python 3.11 and later
subprocess._posixsubprocess = fresh      # earlier versions
subprocess.run(['/bin/sh', '-c', 'echo pwned > ` + env.outside + `'], close_fds=True)`,
			excType: refused, excText: "Operation not permitted"},
		{name: "_ctypes loaded again calls fork, system and execve", need: []layer{needSeccomp},
			code: freshModule("_ctypes") + `
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
print(libc.fork(), ctypes.get_errno())
print(libc.system(b'echo pwned > ` + env.outside + `') >> 8)
print(libc.execv(b'/bin/sh', (ctypes.c_char_p * 2)(b'sh', None)), ctypes.get_errno())`,
			// system() reports 127, "the shell could not run": it could not
			// create the process to run it in.
			stdout: "-1 1\n127\n-1 1\n"},
		{name: "clone3 is answered ENOSYS, clone without CLONE_THREAD EPERM", need: []layer{needSeccomp},
			code: `import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
args = (ctypes.c_uint64 * 11)(0x00004000 | 0x00100000, 0, 0, 0, 17)
print(libc.syscall(435, args, 88), ctypes.get_errno())
print(libc.syscall(56, 17, 0, 0, 0, 0), ctypes.get_errno())
print(libc.syscall(56, 0x10000 | 0x800 | 0x100 | 0x10000000, 0, 0, 0, 0), ctypes.get_errno())`,
			stdout: "-1 38\n-1 1\n-1 1\n"},
		// C code that touches files without audit events.
		{name: "readline writes its history outside", need: []layer{needLandlock},
			code: "import readline\nreadline.write_history_file(" + py(env.outside) + ")", excType: refused},
		{name: "readline reads a host file as history", need: []layer{needLandlock},
			code: "import readline\nreadline.read_history_file('/etc/passwd')", excType: refused},
		{name: "sqlite3 creates a database outside", need: []layer{needLandlock},
			code:    "import sqlite3\nsqlite3.connect(" + py(env.outside) + ").execute('create table t(x)')",
			excType: "OperationalError", excText: "unable to open database file"},
		{name: "_posixshmem opens shared memory", need: []layer{needLandlock},
			code: "import _posixshmem, os\n_posixshmem.shm_open('/repl-attack', os.O_CREAT | os.O_RDWR, 0o600)", excType: refused},
		// Descriptors of a directory opened read-only, and odd flags.
		{name: "creating a file through dir_fd of a read-only directory", need: []layer{needLandlock},
			code:    "import os\nfd = os.open(" + py(env.victimDir) + ", os.O_RDONLY)\nos.open('new.txt', os.O_CREAT | os.O_WRONLY, dir_fd=fd)",
			excType: refused},
		{name: "unlinking through dir_fd of a read-only directory", need: []layer{needLandlock},
			code:    "import os\nfd = os.open(" + py(env.victimDir) + ", os.O_RDONLY)\nos.unlink('victim.txt', dir_fd=fd)",
			excType: refused},
		{name: "mkdir through dir_fd of a read-only directory", need: []layer{needLandlock},
			code:    "import os\nfd = os.open(" + py(env.victimDir) + ", os.O_RDONLY)\nos.mkdir('d', dir_fd=fd)",
			excType: refused},
		{name: "negative open flags that mean write and truncate", need: []layer{needLandlock},
			code: "import os\nos.open(" + py(env.victim) + ", -(1 << 31) | os.O_WRONLY | os.O_TRUNC)", excType: refused},
		// ioctl on a read-only descriptor, also with the upper half of the
		// request set (the kernel ignores it; the filter must too).
		{name: "FS_IOC_SETFLAGS makes a readable file immutable", need: []layer{needSeccomp},
			code:    "import os, fcntl, struct\nfd = os.open(" + py(env.victim) + ", os.O_RDONLY)\nfcntl.ioctl(fd, 0x40086602, struct.pack('l', 0x10))",
			excType: refused, excText: "Operation not permitted"},
		{name: "FS_IOC_SETFLAGS with the request's upper half set", need: []layer{needSeccomp},
			code: `import os, ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
fd = os.open(` + py(env.victim) + `, os.O_RDONLY)
flags = ctypes.c_long(0x10)
print(libc.syscall(16, fd, ctypes.c_ulong((1 << 32) | 0x40086602), ctypes.byref(flags)), ctypes.get_errno())`,
			stdout: "-1 1\n"},
		// Tampering with what the hook relies on, and the hook itself.
		{name: "realpath replaced and a str subclass that lies", need: []layer{needLandlock},
			code: `import posixpath, os
class Liar(str):
    def startswith(self, *a): return True
posixpath.realpath = os.path.realpath = lambda p, **k: Liar(p)
open(Liar('/etc/passwd')).read()`, excType: refused, excText: "Errno 13"},
		{name: "hook switched off through frames, then a host file read", need: []layer{needLandlock},
			code: hookOffThroughFrames + "open('/etc/passwd').read()", excType: refused, excText: "Errno 13"},
		{name: "hook switched off, then a write outside", need: []layer{needLandlock},
			code: "open(" + py(env.outside) + ", 'w').write('x')", excType: refused, excText: "Errno 13"},
		{name: "hook switched off, then listing /", need: []layer{needLandlock},
			code: "import os\nos.listdir('/')", excType: refused, excText: "Errno 13"},
		// In its own pid namespace the host's pid names no process; its own
		// /proc entries are out of Landlock's rules.
		{name: "hook switched off, then the process environments", need: []layer{needLandlock, needNamespaces},
			code: fmt.Sprintf(`for path in ('/proc/self/environ', '/proc/1/environ', '/proc/%d/environ'):
    try:
        open(path, 'rb').read()
        print('read', path)
    except OSError as e:
        print(type(e).__name__, end=' ')`, os.Getpid()),
			stdout: "PermissionError PermissionError FileNotFoundError "},
		// Other processes: scheduling, limits, signals, chroot.
		{name: "setpriority on other processes", need: []layer{needSeccomp},
			code: fmt.Sprintf(`import os
for which, who in ((os.PRIO_PROCESS, 1), (os.PRIO_PROCESS, %d), (os.PRIO_PGRP, 0), (os.PRIO_USER, 0)):
    try:
        os.setpriority(which, who, 19)
        print('changed', which, who)
    except PermissionError as e:
        print(e.errno, end=' ')
os.setpriority(os.PRIO_PROCESS, 0, 5)
print(os.getpriority(os.PRIO_PROCESS, 0))`, os.Getpid()),
			stdout: "1 1 1 1 5\n"},
		{name: "sched_setaffinity and sched_setscheduler on other processes", need: []layer{needSeccomp},
			code: fmt.Sprintf(`import os
for call in (lambda: os.sched_setaffinity(1, {0}), lambda: os.sched_setaffinity(%d, {0}),
             lambda: os.sched_setscheduler(1, os.SCHED_IDLE, os.sched_param(0))):
    try:
        call()
        print('changed')
    except PermissionError as e:
        print(e.errno, end=' ')
os.sched_setaffinity(0, os.sched_getaffinity(0))
print('self')`, os.Getpid()),
			stdout: "1 1 1 self\n"},
		{name: "prlimit on other processes", need: []layer{needSeccomp},
			code: fmt.Sprintf("import resource\nresource.prlimit(%d, resource.RLIMIT_NOFILE, (1, 1))", os.Getpid()), excType: refused},
		{name: "signals to other processes", need: []layer{needSeccomp},
			code: fmt.Sprintf(`import os, signal
for pid in (1, 0, -1, %d):
    try:
        os.kill(pid, signal.SIGKILL)
        print('sent', pid)
    except (PermissionError, ProcessLookupError) as e:
        print(e.errno, end=' ')
os.kill(os.getpid(), 0)
print('self')`, os.Getpid()),
			stdout: "1 1 1 1 self\n"},
		{name: "chroot", need: []layer{needSeccomp}, code: "import os\nos.chroot('.')", excType: refused},
		// Memory outside RLIMIT_AS.
		{name: "memfd_create", need: []layer{needSeccomp},
			code: "import os\nfd = os.memfd_create('hoard')\nos.ftruncate(fd, 1 << 30)", excType: refused},
		{name: "files in /dev/shm", need: []layer{needLandlock},
			code: "open('/dev/shm/repl-attack', 'wb').write(b'x' * (1 << 20))", excType: refused},
		{name: "the scratch tmpfs is full at its quota", need: []layer{needQuota},
			code: `import os
try:
    with open('hoard', 'wb') as f:
        for _ in range(1024):
            f.write(b'x' * (1 << 20))
except OSError as e:
    print(e.errno, os.path.getsize('hoard') <= (256 << 20))
os.remove('hoard')`, stdout: "28 True\n"},
		// The kernel layers themselves.
		{name: "running a program", need: []layer{needSeccomp},
			code:    "import os\nos.execv('/bin/sh', ['sh', '-c', 'echo pwned > " + env.outside + "'])",
			excType: refused, excText: "Operation not permitted"},
		{name: "a network socket", need: []layer{needSeccomp},
			code:    fmt.Sprintf("import socket\nsocket.create_connection(('127.0.0.1', %d))", env.listener.Addr().(*net.TCPAddr).Port),
			excType: refused, excText: "Operation not permitted"},
		{name: "unsharing a namespace", need: []layer{needSeccomp},
			code: `import ctypes
libc = ctypes.CDLL(None, use_errno=True)
print(libc.unshare(0x10000000), ctypes.get_errno())`, stdout: "-1 1\n"},
		{name: "threads still work", need: []layer{needSeccomp},
			code:   "import threading\nt = threading.Thread(target=print, args=('from a thread',))\nt.start()\nt.join()",
			stdout: "from a thread\n"},
	}
	r := startAttackREPL(t, env)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if why := missingLayer(r.Layers(), tc.need); why != "" {
				t.Skip(why)
			}
			run(t, r, hookOff)
			res, err := r.Exec(testContext(t), tc.code)
			require.NoError(t, err)
			assert.False(t, res.Restarted, "the attack did not kill the process")
			if tc.excType != "" {
				require.NotNil(t, res.Exception, "stdout: %s", res.Stdout)
				assert.Equal(t, tc.excType, res.Exception.Type, "%s\n%s", res.Exception.Message, res.Exception.Traceback)
				assert.NotContains(t, res.Exception.Message, "repl sandbox", "refused by the kernel, not by the hook")
				assert.Contains(t, res.Exception.Message, tc.excText)
			} else if res.Exception != nil {
				assert.Fail(t, "unexpected exception", "%s: %s\n%s", res.Exception.Type, res.Exception.Message, res.Exception.Traceback)
			}
			if tc.stdout != "" {
				assert.Equal(t, tc.stdout, res.Stdout)
			}
			env.unharmed(t)
			res = run(t, r, "print(len(context), sub_call(context, 'q'), kept)")
			assert.Equal(t, "1100 100 kept\n", res.Stdout, "the next cell works")
		})
	}
}

// A host function's code or closure cell replaced in place keeps its
// identity: the protection compares values too, restores and reports it.
func TestProtectedFunctionsAreCheckedByValue(t *testing.T) {
	t.Parallel()
	r := start(t, repl.WithFunc("sub_call", countWord("roll")),
		repl.WithPrelude("def helper(x, scale=2):\n    return x * scale\ntable = {(1, 2): 'tuple key'}"))
	require.NoError(t, r.Set(testContext(t), "context", "roll roll"))
	require.NoError(t, r.Set(testContext(t), "names", []string{"a", "b"}))
	res := run(t, r, "x = 1")
	assert.Empty(t, res.Restored, "a protected value nothing changed is not restored")
	for _, code := range []string{
		// Two free variables, as the host function has.
		"def forge(name, self):\n    return lambda *a, **k: ('forged', name, self)[0]\nsub_call.__code__ = forge(1, 2).__code__",
		"for c in sub_call.__closure__:\n    if isinstance(c.cell_contents, str):\n        c.cell_contents = 'other_name'",
		"helper.__defaults__ = (100,)",
		"names.append('c')",
		"names[0] = 'z'",
	} {
		res := run(t, r, code)
		assert.NotEmpty(t, res.Restored, code)
		res = run(t, r, "print(sub_call(context, 'q'), helper(3), names)")
		assert.Equal(t, "2 6 ['a', 'b']\n", res.Stdout, code)
		assert.Empty(t, res.Restored)
	}
}

// Threads a cell leaves running never write into a later cell's output,
// nor call host functions during it.
func TestLeftoverThreadsAreKeptOut(t *testing.T) {
	t.Parallel()
	r := start(t, repl.WithFunc("sub_call", countWord("roll")))
	// The waits are generous bounds for a loaded machine, not timings.
	res := run(t, r, `import threading, time, sys
stop = threading.Event()
calls = []
def chatter():
    while not stop.is_set():
        print('leftover', flush=True)
        sys.stderr.write('leftover\n')
        try:
            calls.append(sub_call('roll', 'q'))
        except Exception as e:
            calls.append(type(e).__name__)
        time.sleep(0.001)
threading.Thread(target=chatter, daemon=True).start()
deadline = time.time() + 30
while '1' not in calls and time.time() < deadline:
    time.sleep(0.01)`)
	assert.Equal(t, 1, res.Threads, "the cell reports the thread it left running")
	assert.Contains(t, res.Stdout, "leftover", "during its own cell the thread's output is kept")
	for range 3 {
		res = run(t, r, "import time\ntime.sleep(0.05)\nprint('mine')")
		assert.Equal(t, "mine\n", res.Stdout, "a later cell's output is its own")
		assert.Empty(t, res.Stderr)
		assert.Equal(t, 0, res.Threads, "threads of earlier cells are not this cell's")
	}
	res = run(t, r, `deadline = time.time() + 30
while 'HostError' not in calls and time.time() < deadline:
    time.sleep(0.01)
stop.set()
print('HostError' in calls)`)
	assert.Equal(t, "True\n", res.Stdout, "its host calls are refused once its cell has ended")
}

// The report of the layers matches what the kernel shows the host about
// the REPL's process: its namespaces, no_new_privs, seccomp, no
// capabilities, and its user namespace's map to the host's user.
func TestLayersAsTheHostSeesThem(t *testing.T) {
	t.Parallel()
	env := newAttackEnv(t)
	r := startAttackREPL(t, env)
	l := r.Layers()
	if why := missingLayer(l, []layer{needNamespaces, needSeccomp}); why != "" {
		t.Skip(why)
	}
	assert.Equal(t, repl.IsolationStrict, l.Isolation)
	assert.Empty(t, l.Missing)
	assert.True(t, l.NoNewPrivs && l.CapabilitiesDropped && l.AuditHook)
	assert.Equal(t, int64(repl.DefaultScratchQuota), l.DiskQuota)

	init := repl.HostPID(r)
	res := run(t, r, "import os\nprint(os.getpid(), os.getppid())")
	assert.Equal(t, "2 1\n", res.Stdout, "the REPL is the second process of its own pid namespace")
	pid := childOf(t, init)
	status := procStatus(t, pid)
	assert.Equal(t, "1", status["NoNewPrivs"])
	assert.Equal(t, "2", status["Seccomp"], "a seccomp filter is in force")
	for _, set := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
		assert.Equal(t, "0000000000000000", status[set], set)
	}
	assert.Equal(t, fmt.Sprintf("%d\t2", pid), status["NSpid"])
	for _, ns := range []string{"user", "mnt", "pid", "net", "ipc", "uts", "cgroup"} {
		mine, err := os.Readlink("/proc/self/ns/" + ns)
		require.NoError(t, err)
		theirs, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
		require.NoError(t, err)
		assert.NotEqual(t, mine, theirs, "a namespace of its own: %s", ns)
	}
	uidMap, err := os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", pid))
	require.NoError(t, err)
	assert.Equal(t, []string{"0", strconv.Itoa(os.Geteuid()), "1"}, strings.Fields(string(uidMap)))

	// Its scratch directory is its own tmpfs, reached by the host through
	// Scratch, and nothing of it is on the host's filesystem.
	require.NoError(t, os.WriteFile(filepath.Join(r.Scratch(), "from-host.txt"), []byte("hello"), 0o644))
	res = run(t, r, "print(open('from-host.txt').read())\nopen('from-python.txt', 'w').write('hi')")
	assert.Equal(t, "hello\n", res.Stdout)
	data, err := os.ReadFile(filepath.Join(r.Scratch(), "from-python.txt"))
	require.NoError(t, err)
	assert.Equal(t, "hi", string(data))
}

// childOf returns the only child of pid.
func childOf(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	require.NoError(t, err)
	fields := strings.Fields(string(data))
	require.Len(t, fields, 1, "children of %d", pid)
	child, err := strconv.Atoi(fields[0])
	require.NoError(t, err)
	return child
}

func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	status := map[string]string{}
	for line := range strings.Lines(string(data)) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			status[k] = strings.TrimSpace(v)
		}
	}
	return status
}

// The three levels: strict starts here with every layer; best effort
// reports the same; hook-only reports no kernel layer and says so in no
// warning, since it asked for none.
func TestIsolationLevels(t *testing.T) {
	t.Parallel()
	best := start(t)
	hookOnly := start(t, repl.WithIsolation(repl.IsolationHookOnly))
	l := hookOnly.Layers()
	assert.Equal(t, repl.Layers{Isolation: repl.IsolationHookOnly, AuditHook: true}, l)
	res := run(t, hookOnly, "import os\nprint(os.getpid() != 2)")
	assert.Equal(t, "True\n", res.Stdout)

	lb := best.Layers()
	if len(lb.Missing) > 0 {
		t.Skipf("this machine lacks kernel layers: %s", strings.Join(lb.Missing, "; "))
	}
	strict := start(t, repl.WithIsolation(repl.IsolationStrict))
	ls := strict.Layers()
	lb.Isolation = repl.IsolationStrict
	assert.Equal(t, lb, ls, "best effort applies every layer strict requires, where they all exist")
	assert.True(t, slices.Equal([]string{"user", "mount", "pid", "net", "ipc", "uts", "cgroup"}, ls.Namespaces))
	assert.Contains(t, ls.String(), "landlock ABI")
}

// A cgroup given with WithCgroup that cannot hold the REPL's cgroups is a
// missing layer: strict refuses, best effort reports it. Where
// RLM_TEST_CGROUP names a delegated cgroup v2 directory, the process runs
// in a cgroup of its own under it, with the memory and task limits, and the
// cgroup goes with the process.
func TestCgroup(t *testing.T) {
	t.Parallel()
	notCgroup := t.TempDir()
	_, err := repl.Start(testContext(t), append(testOptions(t), repl.WithCgroup(notCgroup), repl.WithIsolation(repl.IsolationStrict))...)
	require.ErrorIs(t, err, repl.ErrIsolation)
	assert.ErrorContains(t, err, "not a cgroup v2 directory")
	r := start(t, repl.WithCgroup(notCgroup))
	assert.Empty(t, r.Layers().Cgroup)
	assert.Contains(t, strings.Join(r.Layers().Missing, "; "), "cgroup: ")
	run(t, r, "x = 1")

	parent := os.Getenv("RLM_TEST_CGROUP")
	if parent == "" {
		t.Skip("set RLM_TEST_CGROUP to a delegated cgroup v2 directory (memory and pids in its cgroup.subtree_control) to run the rest")
	}
	r = start(t, repl.WithCgroup(parent), repl.WithIsolation(repl.IsolationStrict), repl.WithMemoryLimit(512<<20), repl.WithMaxProcesses(64))
	dir := r.Layers().Cgroup
	require.NotEmpty(t, dir)
	assert.Equal(t, parent, filepath.Dir(dir))
	for file, want := range map[string]string{"memory.max": strconv.Itoa(512<<20 + repl.DefaultScratchQuota), "pids.max": "64"} {
		data, err := os.ReadFile(filepath.Join(dir, file))
		require.NoError(t, err)
		assert.Equal(t, want, strings.TrimSpace(string(data)), file)
	}
	procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	require.NoError(t, err)
	assert.Len(t, strings.Fields(string(procs)), 2, "the init and the REPL")
	res, err := r.Exec(testContext(t), "import threading, time\nfor _ in range(100):\n    threading.Thread(target=time.sleep, args=(1,)).start()")
	require.NoError(t, err)
	require.NotNil(t, res.Exception, "pids.max stops the threads")
	require.NoError(t, r.Close())
	assert.NoDirExists(t, dir, "the cgroup is removed with its process")
}
