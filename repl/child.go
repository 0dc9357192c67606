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
type child struct {
	cmd   *exec.Cmd
	pid   int
	magic [8]byte
	limit int

	toChild   *os.File
	fromChild *os.File
	output    *os.File // read end of the child's fd 1 and 2

	frames  chan frame // closed when the channel from the child ends
	readErr error      // why frames was closed; read after it is closed

	queue sendQueue
	tail  tailBuffer

	mu          sync.Mutex // guards reaped against the kills
	reaped      bool
	killedAlive bool          // kill found the process still running
	exited      chan struct{} // closed once the process is reaped
	state       *os.ProcessState

	stop      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// launch starts the interpreter, sends it the bootstrap and init, and waits
// for its hello.
func launch(ctx context.Context, interp interpreter, dir string, env []string, init childInit, log *slog.Logger) (*child, error) {
	c := &child{
		limit:  init.MessageLimit,
		frames: make(chan frame),
		exited: make(chan struct{}),
		stop:   make(chan struct{}),
	}
	c.queue.wake = make(chan struct{}, 1)
	if _, err := rand.Read(c.magic[:]); err != nil {
		return nil, fmt.Errorf("repl: start: %w", err)
	}

	// Host to child, child to host, and the child's stdout and stderr; each
	// pair is {read end, write end}.
	pipes, err := openPipes(3)
	if err != nil {
		return nil, fmt.Errorf("repl: start: %w", err)
	}
	childEnds := []*os.File{pipes[0][0], pipes[1][1], pipes[2][1]}
	c.toChild, c.fromChild, c.output = pipes[0][1], pipes[1][0], pipes[2][0]
	setPipeSize(c.toChild)
	setPipeSize(c.fromChild)

	c.cmd = exec.Command(interp.executable, "-I", "-S", "-B", "-c", stub)
	c.cmd.Dir = dir
	c.cmd.Env = env
	c.cmd.Stdout = pipes[2][1]
	c.cmd.Stderr = pipes[2][1]
	c.cmd.ExtraFiles = childEnds[:2] // descriptors 3 and 4
	c.cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,            // its own process group, killed as a whole
		Pdeathsig: syscall.SIGKILL, // and dies with the host
	}
	err = c.cmd.Start()
	closeFiles(childEnds) // the child has its copies
	if err != nil {
		closeFiles([]*os.File{c.toChild, c.fromChild, c.output})
		return nil, fmt.Errorf("%w: start %s: %w", ErrNoPython, interp.executable, err)
	}
	c.pid = c.cmd.Process.Pid

	c.wg.Add(4)
	go c.reap()
	go c.drain()
	go c.readLoop()
	go c.writeLoop()

	src := make([]byte, 4, 4+len(bootstrapSource))
	binary.BigEndian.PutUint32(src, uint32(len(bootstrapSource)))
	c.queue.push(outFrame{raw: append(src, bootstrapSource...)})
	header, err := json.Marshal(init)
	if err != nil {
		c.close()
		return nil, fmt.Errorf("repl: start: %w", err)
	}
	c.queue.push(outFrame{header: header})

	if err := c.awaitHello(ctx); err != nil {
		c.close()
		return nil, err
	}
	log.Debug("repl: python started", "pid", c.pid, "executable", interp.executable, "version", interp.version)
	return c, nil
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
			return fmt.Errorf("repl: start: unexpected first message from python: %q", f.header)
		}
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
	<-c.exited
	if c.state == nil {
		return -1
	}
	return c.state.ExitCode()
}

// failure describes why the process ended, with the Exception.Type a cell
// reports for it; call it after close.
func (c *child) failure() (excType, why string) {
	<-c.exited
	if errors.Is(c.readErr, errProtocol) {
		return "ProtocolError", "corrupted the channel to the host (" + c.readErr.Error() + ")"
	}
	if c.state == nil {
		return "ProcessExit", "ended"
	}
	ws, _ := c.state.Sys().(syscall.WaitStatus)
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
