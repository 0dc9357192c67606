package repl

import (
	"bufio"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

//go:embed bootstrap.py
var bootstrapSource string

// stub is the program given to python -c. It checks the version with syntax
// every Python parses, then reads the bootstrap from descriptor 3 (a length
// and the source) and runs it.
const stub = `import sys, os
if sys.version_info < (3, 8):
    sys.stderr.write("repl: Python %d.%d is too old: 3.8 or newer is required\n" % tuple(sys.version_info[:2]))
    sys.exit(3)
def _read(n):
    b = b""
    while len(b) < n:
        c = os.read(3, n - len(b))
        if not c:
            os._exit(70)
        b += c
    return b
exec(compile(_read(int.from_bytes(_read(4), "big")), "<repl bootstrap>", "exec"), {"__name__": "_repl_bootstrap"})
`

// Exit statuses of the bootstrap (see bootstrap.py).
const (
	exitTooOld   = 3
	exitChannel  = 70
	exitInternal = 71
)

// pipeSize is asked of the kernel for the channel's pipes, so that a large
// value crosses in fewer system calls. Failure to get it is harmless.
const pipeSize = 1 << 20

// childInit is the first frame the bootstrap reads.
type childInit struct {
	Scratch      string      `json:"scratch"`
	ReadRoots    []string    `json:"read_roots"`
	SysPath      []string    `json:"sys_path"`
	Funcs        []string    `json:"funcs"`
	BatchFuncs   []string    `json:"batch_funcs"`
	OutputLimit  int         `json:"output_limit"`
	Display      bool        `json:"display,omitempty"`
	MessageLimit int         `json:"message_limit"`
	Limits       childLimits `json:"limits"`
	Confine      confinePlan `json:"confine"`
}

type childLimits struct {
	Memory int64 `json:"memory,omitempty"` // RLIMIT_AS, bytes
	CPU    int64 `json:"cpu,omitempty"`    // RLIMIT_CPU per cell, seconds
	NoFile int   `json:"nofile,omitempty"` // RLIMIT_NOFILE
	NProc  int   `json:"nproc,omitempty"`  // RLIMIT_NPROC
	FSize  int64 `json:"fsize,omitempty"`  // RLIMIT_FSIZE, bytes
}

// child is one Python process and the goroutines that serve its pipes: a
// reader that turns the child's output channel into frames, a writer that
// drains a queue into its input channel (so that the owner never blocks on a
// full pipe), a drain for its stdout and stderr descriptors, and a reaper.
//
// In its own pid namespace the process the host started is the namespace's
// init, which forks the REPL and relays its wait status through a pipe of
// its own (see be_init in bootstrap.py); pid is always the host's view of
// the process started, whose death ends everything in the namespace.
type child struct {
	cmd   *exec.Cmd
	pid   int
	magic [8]byte
	limit int
	plan  sandboxPlan
	hello *childMsg

	toChild   *os.File
	fromChild *os.File
	output    *os.File // read end of the child's fd 1 and 2
	status    *os.File // read end of the init's status pipe
	cgroup    *processCgroup

	frames  chan frame // closed when the channel from the child ends
	readErr error      // why frames was closed; read after it is closed

	queue sendQueue
	tail  tailBuffer

	mu          sync.Mutex // guards reaped against the kills
	reaped      bool
	killedAlive bool          // kill found the process still running
	exited      chan struct{} // closed once the process is reaped
	state       *os.ProcessState
	relayed     *syscall.WaitStatus // the REPL's status, relayed by the init

	stop      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// launchSpec is what a new process needs.
type launchSpec struct {
	interp interpreter
	dir    string
	env    []string
	init   childInit
	plan   sandboxPlan
	log    *slog.Logger
}

// launch starts the interpreter, sends it the bootstrap and init, and waits
// for its hello. When the new namespaces cannot be made, a best-effort plan
// starts the process without them.
func launch(ctx context.Context, spec launchSpec) (*child, error) {
	c := &child{
		limit:  spec.init.MessageLimit,
		plan:   spec.plan,
		frames: make(chan frame),
		exited: make(chan struct{}),
		stop:   make(chan struct{}),
	}
	c.queue.wake = make(chan struct{}, 1)
	if _, err := rand.Read(c.magic[:]); err != nil {
		return nil, fmt.Errorf("repl: start: %w", err)
	}
	if err := c.start(spec.interp, spec.dir, spec.env); err != nil {
		if !errors.Is(err, ErrIsolation) || c.plan.level == IsolationStrict {
			return nil, err
		}
		c.plan.namespaces = false
		if err := c.start(spec.interp, spec.dir, spec.env); err != nil {
			return nil, err
		}
	}

	c.wg.Add(4)
	go c.reap()
	go c.drain()
	go c.readLoop()
	go c.writeLoop()

	src := make([]byte, 4, 4+len(bootstrapSource))
	binary.BigEndian.PutUint32(src, uint32(len(bootstrapSource)))
	c.queue.push(outFrame{raw: append(src, bootstrapSource...)})
	self := c.pid
	if c.plan.namespaces {
		self = 2 // the first process the init forks
	}
	init := spec.init
	confine, err := c.plan.confinement(init.Scratch, self)
	if err == nil {
		init.Confine = confine
		var header []byte
		if header, err = json.Marshal(init); err == nil {
			c.queue.push(outFrame{header: header})
			err = c.awaitHello(ctx)
		}
	}
	if err != nil {
		c.close()
		return nil, err
	}
	spec.log.Debug("repl: python started", "pid", c.pid, "executable", spec.interp.executable, "version", spec.interp.version)
	return c, nil
}

// start starts the process, in new namespaces if the plan says so.
func (c *child) start(interp interpreter, dir string, env []string) error {
	// Host to child, child to host, the child's stdout and stderr, and the
	// init's status; each pair is {read end, write end}.
	pipes, err := openPipes(4)
	if err != nil {
		return fmt.Errorf("repl: start: %w", err)
	}
	childEnds := []*os.File{pipes[0][0], pipes[1][1], pipes[3][1], pipes[2][1]}
	hostEnds := []*os.File{pipes[0][1], pipes[1][0], pipes[2][0], pipes[3][0]}
	c.cmd = exec.Command(interp.executable, "-I", "-S", "-B", "-c", stub)
	c.cmd.Dir = dir
	c.cmd.Env = env
	c.cmd.Stdout = pipes[2][1]
	c.cmd.Stderr = pipes[2][1]
	c.cmd.ExtraFiles = childEnds[:3] // descriptors 3, 4 and 5
	c.cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,            // its own process group, killed as a whole
		Pdeathsig: syscall.SIGKILL, // and dies with the host
	}
	if c.plan.namespaces {
		namespaceAttr(c.cmd.SysProcAttr)
	}
	if c.plan.cgroupParent != "" && c.plan.noCgroup == "" {
		cg, err := newProcessCgroup(c.plan.cgroupParent, c.plan.cgroupMemory, c.plan.cgroupTasks)
		if err != nil {
			closeFiles(childEnds)
			closeFiles(hostEnds)
			if c.plan.level == IsolationStrict {
				return fmt.Errorf("%w: %w", ErrIsolation, err)
			}
			c.plan.noCgroup = err.Error()
			return c.start(interp, dir, env)
		}
		cg.attach(c.cmd.SysProcAttr)
		c.cgroup = cg
		c.plan.cgroupDir = cg.dir
	}
	err = c.cmd.Start()
	closeFiles(childEnds) // the child has its copies
	c.cgroup.started()
	if err != nil {
		closeFiles(hostEnds)
		c.cgroup.remove()
		c.cgroup, c.plan.cgroupDir = nil, ""
		if c.plan.namespaces && !errors.Is(err, syscall.ENOENT) && !errors.Is(err, syscall.EACCES) {
			// clone refused the namespaces (EPERM, EINVAL, ENOSPC...), not
			// the interpreter missing or unrunnable.
			c.plan.noNamespaces = err.Error()
			return fmt.Errorf("%w: start in new namespaces: %w", ErrIsolation, err)
		}
		return fmt.Errorf("%w: start %s: %w", ErrNoPython, interp.executable, err)
	}
	c.toChild, c.fromChild, c.output, c.status = hostEnds[0], hostEnds[1], hostEnds[2], hostEnds[3]
	setPipeSize(c.toChild)
	setPipeSize(c.fromChild)
	c.pid = c.cmd.Process.Pid
	return nil
}

// readStatus reads the wait status the init relayed, if any. It is called
// once the process is reaped: every holder of the pipe is gone, so the read
// does not wait.
func (c *child) readStatus() {
	var buf [4]byte
	if _, err := io.ReadFull(c.status, buf[:]); err == nil {
		ws := syscall.WaitStatus(binary.BigEndian.Uint32(buf[:]))
		c.relayed = &ws
	}
	io.Copy(io.Discard, io.LimitReader(c.status, 1<<10))
}

func (c *child) awaitHello(ctx context.Context) error {
	select {
	case f, ok := <-c.frames:
		if !ok {
			c.close()
			if c.exitCode() == exitTooOld {
				return fmt.Errorf("%w: %s", ErrNoPython, lastLine(c.tail.String()))
			}
			_, why := c.failure()
			return fmt.Errorf("repl: start: python %s: %s", why, lastLine(c.tail.String()))
		}
		msg, err := parseMessage(f)
		if err != nil || msg.Op != "hello" {
			return fmt.Errorf("repl: start: unexpected first message from python: %.200q", f.header)
		}
		c.hello = msg
		return nil
	case <-ctx.Done():
		return fmt.Errorf("repl: start: %w", ctx.Err())
	}
}

// send queues f for the child. Frames sent after the child died are dropped:
// its death reaches the owner through the closed frames channel.
func (c *child) send(f outFrame) { c.queue.push(f) }

// interrupt asks the running cell to stop (KeyboardInterrupt in the child).
func (c *child) interrupt() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.reaped {
		_ = c.cmd.Process.Signal(syscall.SIGINT)
	}
}

// kill ends the process and everything in its process group. It holds mu so
// that the reaper cannot release the pid, and with it the group id, meanwhile.
func (c *child) kill() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.reaped {
		if !hasExited(c.pid) {
			c.killedAlive = true
		}
		_ = syscall.Kill(-c.pid, syscall.SIGKILL)
		_ = c.cmd.Process.Signal(syscall.SIGKILL) // in case it left its group
	}
}

// close kills the child, closes the host's ends of its pipes and waits for all
// of its goroutines. It is safe to call more than once.
func (c *child) close() {
	c.closeOnce.Do(func() {
		close(c.stop)
		c.kill()
		c.toChild.Close()
		c.fromChild.Close()
		c.output.Close()
		c.status.Close()
	})
	c.wg.Wait()
}

// reap waits for the process to exit without reaping it (WNOWAIT), kills
// whatever is left in its process group while the group id is still
// reserved, then reaps it.
func (c *child) reap() {
	defer c.wg.Done()
	_ = waitExit(c.pid)
	c.mu.Lock()
	_ = syscall.Kill(-c.pid, syscall.SIGKILL)
	c.reaped = true
	c.mu.Unlock()
	_ = c.cmd.Wait()
	c.state = c.cmd.ProcessState
	c.readStatus()
	c.cgroup.remove()
	close(c.exited)
}

// waitExit blocks until the process pid has exited, leaving it a zombie.
func waitExit(pid int) error {
	const pPID, wNoWait = 1, 0x1000000
	var info [128]byte // siginfo_t
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info[0])), syscall.WEXITED|wNoWait, 0, 0)
		if errno == syscall.EINTR {
			continue
		}
		if errno != 0 {
			return errno
		}
		return nil
	}
}

// hasExited reports whether the process pid has exited (is a zombie).
func hasExited(pid int) bool {
	const pPID, wNoHang, wNoWait, sigchld = 1, 1, 0x1000000, 17
	var info [128]byte
	_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
		uintptr(unsafe.Pointer(&info[0])), syscall.WEXITED|wNoHang|wNoWait, 0, 0)
	signo := binary.NativeEndian.Uint32(info[:4]) // si_signo: set only if it has exited
	return errno == 0 && signo == sigchld
}

func (c *child) readLoop() {
	defer c.wg.Done()
	defer close(c.frames)
	r := bufio.NewReaderSize(c.fromChild, 64<<10)
	for {
		f, err := readFrame(r, c.magic, c.limit)
		if err != nil {
			c.readErr = err
			return
		}
		select {
		case c.frames <- f:
		case <-c.stop:
			c.readErr = io.EOF
			return
		}
	}
}

func (c *child) writeLoop() {
	defer c.wg.Done()
	for {
		frames, ok := c.queue.take(c.stop)
		if !ok {
			return
		}
		for _, f := range frames {
			if err := f.writeTo(c.toChild, c.magic); err != nil {
				c.queue.shut() // the child is gone; the reader will see it
				return
			}
		}
	}
}

// drain reads the child's real stdout and stderr (C-level writes, fatal
// error reports), keeping only the last bytes, so that the child can never
// block on them nor make the host hold much of them.
func (c *child) drain() {
	defer c.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := c.output.Read(buf)
		c.tail.Write(buf[:n])
		if err != nil {
			return
		}
	}
}

// exitCode is the exit status after the process was reaped, or -1.
func (c *child) exitCode() int {
	ws, ok := c.waitStatus()
	if !ok || !ws.Exited() {
		return -1
	}
	return ws.ExitStatus()
}

// waitStatus is how the REPL process ended, once it was reaped: as its init
// relayed it, else as the host saw it.
func (c *child) waitStatus() (syscall.WaitStatus, bool) {
	<-c.exited
	if c.relayed != nil {
		return *c.relayed, true
	}
	if c.state == nil {
		return 0, false
	}
	ws, ok := c.state.Sys().(syscall.WaitStatus)
	return ws, ok
}

// settle gives a process whose channel ended up to d to exit by itself, so
// that its own end (and its init's report of it) is what failure describes.
func (c *child) settle(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.exited:
	case <-t.C:
	}
}

// failure describes why the process ended, with the Exception.Type a cell
// reports for it; call it after close.
func (c *child) failure() (excType, why string) {
	ws, ok := c.waitStatus()
	if errors.Is(c.readErr, errProtocol) {
		return "ProtocolError", "corrupted the channel to the host (" + c.readErr.Error() + ")"
	}
	if !ok {
		return "ProcessExit", "ended"
	}
	switch {
	case ws.Signaled() && ws.Signal() == syscall.SIGXCPU:
		return "TimeoutError", "exceeded its CPU time limit"
	case ws.Signaled() && ws.Signal() == syscall.SIGKILL && c.killedAlive:
		// The host killed it because its channel ended while it ran.
		return "ProtocolError", "closed its channel to the host"
	case ws.Signaled() && ws.Signal() == syscall.SIGKILL:
		return "ProcessExit", "was killed (SIGKILL, perhaps for lack of memory)"
	case ws.Signaled():
		return "ProcessExit", "was killed by " + ws.Signal().String()
	case ws.ExitStatus() == exitChannel:
		return "ProtocolError", "lost its channel to the host"
	case ws.ExitStatus() == exitInternal:
		return "MemoryError", "failed inside the REPL bootstrap (memory exhausted?)"
	default:
		return "ProcessExit", fmt.Sprintf("exited with status %d", ws.ExitStatus())
	}
}

func openPipes(n int) ([][2]*os.File, error) {
	var pipes [][2]*os.File
	for range n {
		r, w, err := os.Pipe()
		if err != nil {
			for _, p := range pipes {
				closeFiles(p[:])
			}
			return nil, err
		}
		pipes = append(pipes, [2]*os.File{r, w})
	}
	return pipes, nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// setPipeSize enlarges a pipe's kernel buffer (F_SETPIPE_SZ); best effort.
func setPipeSize(f *os.File) {
	const fSetPipeSz = 1031
	if sc, err := f.SyscallConn(); err == nil {
		_ = sc.Control(func(fd uintptr) {
			_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, fd, fSetPipeSz, pipeSize)
		})
	}
}

// sendQueue is an unbounded FIFO of frames for the writer goroutine.
type sendQueue struct {
	mu     sync.Mutex
	frames []outFrame
	closed bool
	wake   chan struct{}
}

func (q *sendQueue) push(f outFrame) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.frames = append(q.frames, f)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *sendQueue) take(stop <-chan struct{}) ([]outFrame, bool) {
	for {
		q.mu.Lock()
		if frames := q.frames; len(frames) > 0 {
			q.frames = nil
			q.mu.Unlock()
			return frames, true
		}
		q.mu.Unlock()
		select {
		case <-q.wake:
		case <-stop:
			return nil, false
		}
	}
}

func (q *sendQueue) shut() {
	q.mu.Lock()
	q.closed = true
	q.frames = nil
	q.mu.Unlock()
}

// tailBuffer keeps the last tailSize bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 4 << 10

func (t *tailBuffer) Write(p []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailSize {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailSize:]...)
	}
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
