package repl_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/repl"
)

// Each attack is contained, and the next cell works: the document and host
// functions are bound (again, after a restart), and variables survive exactly
// when no restart was reported.
func TestContainment(t *testing.T) {
	t.Parallel()
	outside := filepath.Join(os.TempDir(), fmt.Sprintf("repl-escape-%d", time.Now().UnixNano()))
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { listener.Close() })
	port := listener.Addr().(*net.TCPAddr).Port

	t.Cleanup(func() { // after all the parallel subtests
		_, err := os.Stat(outside)
		assert.True(t, os.IsNotExist(err), "no file was written outside")
		require.NoError(t, listener.(*net.TCPListener).SetDeadline(time.Now().Add(100*time.Millisecond)))
		conn, err := listener.Accept()
		if err == nil {
			conn.Close()
		}
		assert.Error(t, err, "no connection reached the listener")
	})

	const refused = "PermissionError"
	// The time limit of the cases that need one applies to every cell of
	// their REPL: it must stay out of reach of the check cell on a loaded
	// machine.
	const limit = 5 * time.Second
	cases := []struct {
		name    string
		code    string
		opts    []repl.Option
		excType string // "" for none
		restart bool
		// orType is another acceptable outcome, without a restart: some
		// Python versions catch what crashes others.
		orType string
	}{
		{name: "infinite loop", code: "while True: pass", excType: "TimeoutError",
			opts: []repl.Option{repl.WithTimeout(limit), repl.WithInterruptGrace(time.Minute)}},
		{name: "loop that ignores SIGINT", code: "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass",
			excType: "TimeoutError", restart: true,
			opts: []repl.Option{repl.WithTimeout(limit), repl.WithInterruptGrace(time.Second)}},
		{name: "loop under a SIGINT handler that ignores it", code: "import signal\nsignal.signal(signal.SIGINT, lambda *a: None)\nwhile True: pass",
			excType: "TimeoutError", restart: true,
			opts: []repl.Option{repl.WithTimeout(limit), repl.WithInterruptGrace(time.Second)}},
		{name: "loop that swallows KeyboardInterrupt", code: "import time\nwhile True:\n    try:\n        time.sleep(60)\n    except BaseException:\n        pass",
			excType: "TimeoutError", restart: true,
			opts: []repl.Option{repl.WithTimeout(limit), repl.WithInterruptGrace(time.Second)}},
		{name: "memory bomb", code: "hoard = []\nwhile True:\n    hoard.append(bytearray(1 << 20))",
			excType: "MemoryError", restart: true,
			opts: []repl.Option{repl.WithMemoryLimit(256 << 20)}},
		{name: "one huge allocation", code: "x = ' ' * (1 << 40)", excType: "MemoryError",
			opts: []repl.Option{repl.WithMemoryLimit(256 << 20)}},
		{name: "CPU time limit", code: "while True: pass", excType: "TimeoutError", restart: true,
			opts: []repl.Option{repl.WithCPULimit(time.Second)}},
		// Written so that even a sandbox failure could not multiply
		// processes: a child that got through would exit at once.
		{name: "fork bomb", code: "import os\nwhile True:\n    if os.fork() == 0:\n        os._exit(0)", excType: refused},
		{name: "subprocess", code: `import subprocess
subprocess.run(["sh", "-c", "id"])`, excType: refused},
		{name: "os.system", code: "import os\nos.system('id')", excType: refused},
		{name: "os.popen", code: "import os\nos.popen('id').read()", excType: refused},
		{name: "os.execv", code: "import os\nos.execv('/bin/sh', ['sh', '-c', 'id'])", excType: refused},
		{name: "os.posix_spawn", code: "import os\nos.posix_spawn('/bin/true', ['true'], {})", excType: refused},
		{name: "os.spawnv", code: "import os\nos.spawnv(os.P_WAIT, '/bin/true', ['true'])", excType: refused},
		// os.forkpty is refused by the hook; pty then opens /dev/ptmx itself,
		// which Landlock refuses, and reports running out of terminals.
		{name: "pty.fork", code: "import pty\npty.fork()", excType: refused, orType: "OSError"},
		{name: "multiprocessing", code: "import multiprocessing as mp\nmp.Process(target=print).start()", excType: refused},
		{name: "multiprocessing spawn", code: "import multiprocessing as mp\nmp.get_context('spawn').Process(target=print).start()",
			excType: refused},
		{name: "direct fork_exec", code: `import _posixsubprocess, os
_posixsubprocess.fork_exec([b"/bin/true"], [b"/bin/true"], True, (), None, None,
    -1, -1, -1, -1, -1, -1, *os.pipe(), False, False, False, None, None, None, -1, None, False)`,
			excType: refused},
		// Refused by the hook where it is an extension module; a built-in
		// one (Debian's Python) loads, and its fork is refused by seccomp.
		{name: "reloading _posixsubprocess", code: `import importlib.util, subprocess
spec = importlib.util.find_spec('_posixsubprocess')
fresh = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fresh)
subprocess._fork_exec = fresh.fork_exec
subprocess.run(['/bin/true'])`, excType: refused},
		{name: "ctypes", code: "import ctypes", excType: "ImportError"},
		{name: "killing the host", code: "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)", excType: refused},
		{name: "raising its limits", code: "import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))", excType: refused},
		{name: "writing /tmp/x", code: "open('/tmp/x', 'w').write('x')", excType: refused},
		{name: "writing outside", code: "open(" + pyString(outside) + ", 'w').write('x')", excType: refused},
		{name: "reading outside", code: "open('/etc/passwd').read()", excType: refused},
		{name: "reading the environment of the process", code: "open('/proc/self/environ').read()", excType: refused},
		{name: "listing outside", code: "import os\nos.listdir('/')", excType: refused},
		{name: "relative path out", code: "open('../../../../../../../etc/passwd')", excType: refused},
		{name: "symlink out", code: "import os\nos.symlink('/etc', 'etc')\nopen('etc/passwd')", excType: refused},
		{name: "hard link to a readable file", code: "import os, json\nos.link(json.__file__, 'json.py')\nopen('json.py', 'a').write('#')",
			excType: refused},
		{name: "chmod through a read descriptor", code: "import os, json\nfd = os.open(json.__file__, os.O_RDONLY)\nos.fchmod(fd, 0o777)",
			excType: refused},
		{name: "device node", code: "import os, stat\nos.mknod('null', stat.S_IFCHR | 0o600, os.makedev(1, 3))\nopen('null').read()",
			excType: refused},
		{name: "socket to 127.0.0.1", code: "import socket\nsocket.create_connection(('127.0.0.1', " + strconv.Itoa(port) + "))",
			excType: refused},
		{name: "printing 100 MB", code: "line = 'x' * 1_000_000\nfor _ in range(100):\n    print(line)"},
		{name: "writing to the real stdout", code: "import os\nfor _ in range(20):\n    os.write(1, b'x' * 1_000_000)\n    os.write(2, b'y' * 1_000_000)"},
		{name: "sys.exit", code: "import sys\nsys.exit(3)", excType: "SystemExit"},
		{name: "exit builtin", code: "exit()", excType: "SystemExit"},
		{name: "os._exit", code: "import os\nos._exit(1)", excType: "ProcessExit", restart: true},
		{name: "infinite recursion", code: "def f(n):\n    return f(n + 1)\nf(0)", excType: "RecursionError"},
		{name: "recursion past the C stack", code: "import sys\nsys.setrecursionlimit(10**8)\ndef f(n):\n    return list(map(f, [n + 1]))\nf(0)",
			excType: "ProcessExit", restart: true, orType: "RecursionError"},
		{name: "rebinding sub_call and context", code: "sub_call = None\ncontext = 'gone'\ndel kept"},
		{name: "garbage into the channel", code: `import os
for fd in range(3, 1 << 16):
    try:
        os.write(fd, b'\x00garbage' * 8)
    except OSError:
        pass`, excType: "ProtocolError", restart: true},
		{name: "closing the channel", code: `import os
for fd in range(3, 1 << 16):
    try:
        os.close(fd)
    except OSError:
        pass
while True:
    pass`, excType: "ProtocolError", restart: true},
	}
	doc := strings.Repeat("They roll. ", 1000)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := append([]repl.Option{repl.WithFunc("sub_call", countWord("roll"))}, tc.opts...)
			r := start(t, opts...)
			require.NoError(t, r.Set(testContext(t), "context", doc))
			run(t, r, "kept = 'kept'")

			res, err := r.Exec(testContext(t), tc.code)
			require.NoError(t, err)
			if tc.orType != "" && res.Exception != nil && res.Exception.Type == tc.orType {
				tc.excType, tc.restart = tc.orType, false
			}
			if tc.excType == "" {
				require.Nil(t, res.Exception, "%+v", res.Exception)
			} else {
				require.NotNil(t, res.Exception)
				assert.Equal(t, tc.excType, res.Exception.Type, "%s\n%s", res.Exception.Message, res.Exception.Traceback)
			}
			assert.Equal(t, tc.restart, res.Restarted, "restarted")

			res = run(t, r, "print(len(context), sub_call(context, 'q'))\nprint(globals().get('kept'))")
			want := "kept"
			if tc.restart || tc.name == "rebinding sub_call and context" {
				want = "None"
			}
			assert.Equal(t, fmt.Sprintf("%d 1000\n%s\n", len(doc), want), res.Stdout)
		})
	}
}

func TestPrinting100MBIsCappedAtTheSource(t *testing.T) {
	t.Parallel()
	r := start(t)
	res := run(t, r, "line = 'x' * 1_000_000\nfor _ in range(100):\n    print(line)")
	assert.True(t, res.StdoutTruncated)
	assert.Equal(t, strings.Repeat("x", repl.DefaultOutputLimit), res.Stdout[:repl.DefaultOutputLimit])
	cut := 100*1_000_001 - repl.DefaultOutputLimit // 100 lines of 1,000,001 characters, less those kept
	assert.Equal(t, fmt.Sprintf("\n[... %d more characters cut: output is limited to 20000 characters per cell]", cut),
		res.Stdout[repl.DefaultOutputLimit:])
}

// Not parallel: it sets environment variables of the test process.
func TestEnvironmentIsScrubbed(t *testing.T) {
	t.Setenv("HF_TOKEN", "hf_secret_token")
	t.Setenv("OPENAI_API_KEY", "sk-secret-key")
	t.Setenv("RLM_TEST_ALLOWED", "visible")
	r := start(t, repl.WithEnv("RLM_TEST_ALLOWED"))
	res := run(t, r, `import os
print(sorted(os.environ))
print(os.environ.get('HF_TOKEN'), os.environ.get('OPENAI_API_KEY'), os.environ['RLM_TEST_ALLOWED'])
print(os.environ['HOME'] == os.getcwd())`)
	assert.Equal(t, "['HOME', 'LANG', 'PATH', 'RLM_TEST_ALLOWED', 'TMPDIR']\nNone None visible\nTrue\n", res.Stdout)

	for _, path := range []string{"/proc/self/environ", fmt.Sprintf("/proc/%d/environ", os.Getpid())} {
		res, err := r.Exec(testContext(t), "open("+pyString(path)+", 'rb').read()")
		require.NoError(t, err)
		require.NotNil(t, res.Exception, path)
		assert.Equal(t, "PermissionError", res.Exception.Type, path)
	}
}

func TestLimitsAreApplied(t *testing.T) {
	t.Parallel()
	r := start(t, repl.WithMemoryLimit(300<<20), repl.WithMaxOpenFiles(100),
		repl.WithMaxProcesses(4096), repl.WithMaxFileSize(1<<20))
	res := run(t, r, `import resource as r
print([r.getrlimit(x)[0] for x in (r.RLIMIT_AS, r.RLIMIT_NOFILE, r.RLIMIT_NPROC, r.RLIMIT_FSIZE, r.RLIMIT_CORE)])`)
	assert.Equal(t, fmt.Sprintf("[%d, 100, 4096, %d, 0]\n", 300<<20, 1<<20), res.Stdout)

	res, err := r.Exec(testContext(t), "open('big', 'wb').write(b'x' * (2 << 20))")
	require.NoError(t, err)
	require.NotNil(t, res.Exception, "a file past the size limit cannot be written")
	assert.Contains(t, res.Exception.Message, "File too large")
}
