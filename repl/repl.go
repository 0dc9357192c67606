package repl

// This file fixes the package's exported contract so that the rlm engine can
// be written against it while the implementation is built. Signatures here are
// agreed with the rlm package; extend the API freely, but change these only
// together with their callers.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by methods called after [REPL.Close].
var ErrClosed = errors.New("repl: closed")

// Func is a Go function callable from Python by the name it is registered
// under. Arguments arrive as Go values decoded from Python: string, int64,
// float64, bool, nil, []any and map[string]any. The returned value must be of
// those kinds too. A non-nil error is raised in Python as an exception whose
// message is the error's text. ctx is the context of the running Exec.
type Func func(ctx context.Context, args []any, kwargs map[string]any) (any, error)

// BatchFunc handles one item of a batched call: Python calls the registered
// name with a list, Go calls BatchFunc for every item concurrently (bounded by
// the registered concurrency) and Python gets the results as a list in the
// order of the items. If any item fails, Python gets an exception naming the
// first failed item; callers that want per-item error values return them as
// ordinary values instead.
type BatchFunc func(ctx context.Context, item any) (any, error)

// Result is what one cell produced. A Python exception is a result, not a Go
// error.
type Result struct {
	Stdout string
	Stderr string
	// Exception is nil when the cell ran to completion.
	Exception *Exception
	// Changed lists the names of user variables the cell defined or rebound,
	// sorted: at most 1000 names of at most 200 characters (then "...").
	// ChangedCut counts the names left out.
	Changed    []string
	ChangedCut int
	// Restored lists protected names (bound with Set, WithFunc, WithBatchFunc or
	// defined by WithPrelude) that the cell rebound or deleted and that were
	// put back, sorted.
	Restored []string
	// StdoutTruncated and StderrTruncated report that output went past the
	// cap; the kept text ends with a marker saying how much was cut.
	StdoutTruncated bool
	StderrTruncated bool
	// Restarted reports that the Python process had to be killed and started
	// anew (timeout ignored, memory exhausted, channel corrupted, process
	// exited): protected names are bound again, other variables are lost.
	// sys.exit() in a cell is only a SystemExit exception.
	Restarted bool
	// Threads counts the threads the cell started that were still running
	// when it ended. They go on running in the process, but what they print
	// is dropped (it never reaches a later cell's output) and their host
	// calls are refused.
	Threads int
	// Duration is the wall time of the cell.
	Duration time.Duration
}

// Exception describes a Python exception raised by a cell.
type Exception struct {
	Type      string // e.g. "ZeroDivisionError"
	Message   string
	Traceback string // formatted as Python prints it
}

// REPL is a live Python interpreter in a child process. Its methods are safe
// for concurrent use; cells run one at a time.
type REPL struct {
	cfg     config
	log     *slog.Logger
	interp  interpreter
	scratch string
	// ownScratch: the scratch directory was created by Start and is removed
	// by Close.
	ownScratch bool
	readRoots  []string
	// cgroupParent is the cgroup v2 directory under which each process gets
	// a cgroup, "" for none; cgroupErr says why WithCgroup's is unusable.
	cgroupParent string
	cgroupErr    error

	current atomic.Pointer[processInfo] // the live process, nil between processes
	last    atomic.Pointer[processInfo] // the last process started
	warned  atomic.Bool                 // the best-effort warning was logged

	cellSlot chan struct{} // holds a token while an Exec is in progress
	reqs     chan *request // to the owner goroutine
	life     context.Context
	stop     context.CancelFunc
	done     chan struct{} // closed when the owner goroutine has exited

	closeOnce sync.Once
	closeErr  error
}

// Start launches the interpreter. ctx bounds the start only, not the life of
// the REPL.
func Start(ctx context.Context, opts ...Option) (*REPL, error) {
	cfg := defaultConfig()
	for _, opt := range opts {
		opt(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	interp, err := findInterpreter(ctx, cfg.python)
	if err != nil {
		return nil, err
	}
	r := &REPL{
		cfg:      cfg,
		log:      cfg.logger,
		interp:   interp,
		cellSlot: make(chan struct{}, 1),
		reqs:     make(chan *request),
		done:     make(chan struct{}),
	}
	if err := r.makeScratch(); err != nil {
		return nil, err
	}
	r.readRoots = readRoots(r.scratch, slices.Concat(interp.path, cfg.readPaths, existingPaths(systemReadPaths)))
	r.chooseCgroup()
	r.life, r.stop = context.WithCancel(context.Background())
	o := newOwner(r)
	if err := o.ensureChild(ctx); err != nil {
		r.stop()
		r.removeScratch()
		return nil, err
	}
	go r.run(o)
	return r, nil
}

// Set binds value under name (protected, restored after every cell and after
// a restart). Large strings are sent once and not copied per cell.
//
// value may be a string, []byte (as a string), a bool, any integer or float
// type, nil, or a slice, array or string-keyed map of those; structs go
// through encoding/json. A string equal to one already bound under another
// name is shared with it in Python rather than sent again. Set waits until
// Python has the value, or until ctx ends: the binding is recorded at once
// and is in place in any process started later, so an error from ctx says
// only that the live process may not have it yet. Set may be called while a
// cell runs, from a host function included, and the cell then sees the new
// value.
func (r *REPL) Set(ctx context.Context, name string, value any) error {
	if r == nil {
		return ErrClosed
	}
	if err := checkName(name); err != nil {
		return fmt.Errorf("repl: set %s: %w", name, err)
	}
	if _, ok := r.cfg.funcs[name]; ok {
		return fmt.Errorf("repl: set %s: name is a host function", name)
	}
	if _, ok := r.cfg.batchFuncs[name]; ok {
		return fmt.Errorf("repl: set %s: name is a host function", name)
	}
	b, err := newBinding(name, value, r.cfg.messageLimit)
	if err != nil {
		return fmt.Errorf("repl: set %s: %w", name, err)
	}
	resp := r.do(ctx, &request{kind: reqSet, ctx: ctx, binding: b})
	return resp.err
}

// Get returns the value of a Python variable converted to the Go kinds listed
// at [Func]. Get never runs Python code of the cell's (a __str__, an __eq__,
// a dict subclass's items): only values of exact built-in types are
// converted. Sets come back as lists; bytes, complex numbers, ranges, classes
// and functions as their repr(); integers beyond int64 and non-finite floats
// as their text; any other object as a placeholder naming its type, such as
// "<Counter object>" (print it in a cell to read its str()). A missing name
// gives an error wrapping [ErrUndefined]. Get may be called while a cell
// runs (from a host function included) and sees the variable as it is then;
// it waits for the process until ctx ends.
func (r *REPL) Get(ctx context.Context, name string) (any, error) {
	if r == nil {
		return nil, ErrClosed
	}
	if err := checkName(name); err != nil {
		return nil, fmt.Errorf("repl: get %s: %w", name, err)
	}
	resp := r.do(ctx, &request{kind: reqGet, ctx: ctx, name: name})
	return resp.value, resp.err
}

// Exec runs one cell. A Python exception, a timeout and a restarted process
// are reported in the Result; the error is non-nil only when the cell could
// not run or finish: the REPL is closed, ctx ended (the cell is interrupted
// and the error wraps ctx.Err()), or a new Python process could not be
// started. Exec returns only after the cell has stopped and the host
// functions it called have returned.
func (r *REPL) Exec(ctx context.Context, code string) (Result, error) {
	if r == nil {
		return Result{}, ErrClosed
	}
	if ctx.Value(cellKey{}) == r {
		return Result{}, errors.New("repl: exec: called from a host function of the cell it would wait for")
	}
	select {
	case r.cellSlot <- struct{}{}:
	case <-ctx.Done():
		return Result{}, fmt.Errorf("repl: exec: %w", ctx.Err())
	case <-r.done:
		return Result{}, ErrClosed
	}
	defer func() { <-r.cellSlot }()
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("repl: exec: %w", err)
	}
	if n := len(code); n > r.cfg.messageLimit-1024 {
		return Result{}, fmt.Errorf("repl: exec: code of %d bytes exceeds the message limit of %d", n, r.cfg.messageLimit)
	}
	resp := r.do(ctx, &request{kind: reqExec, ctx: ctx, code: code})
	return resp.result, resp.err
}

// Scratch returns the path at which the host reaches the working directory
// of the Python process: the only directory it may write, which the host may
// read and fill.
//
// When the scratch directory is a private tmpfs ([Layers].DiskQuota > 0) it
// exists only in the process's mount namespace: the path is then under
// /proc/PID/root, valid while that process lives, and the files in it end
// with the process, as its variables do (call Scratch again after
// Result.Restarted). Otherwise it is the directory itself, which outlives
// restarts.
func (r *REPL) Scratch() string {
	if r == nil {
		return ""
	}
	if p := r.current.Load(); p != nil && p.layers.DiskQuota > 0 {
		return filepath.Join(fmt.Sprintf("/proc/%d/root", p.pid), r.scratch)
	}
	return r.scratch
}

// Layers reports the isolation of the current Python process (or of the
// last one, between a process's death and the next call that starts one).
func (r *REPL) Layers() Layers {
	if r == nil {
		return Layers{}
	}
	if p := r.current.Load(); p != nil {
		return p.layers
	}
	if p := r.last.Load(); p != nil {
		return p.layers
	}
	return Layers{}
}

// processInfo describes a live Python process.
type processInfo struct {
	pid    int // as the host sees it
	layers Layers
}

// checkLayers refuses a process that misses a layer under the strict level,
// and logs the one warning of the best-effort level.
func (r *REPL) checkLayers(l Layers) error {
	if len(l.Missing) == 0 {
		return nil
	}
	switch r.cfg.isolation {
	case IsolationStrict:
		return fmt.Errorf("%w: %s", ErrIsolation, strings.Join(l.Missing, "; "))
	case IsolationBestEffort:
		if !r.warned.Swap(true) {
			r.log.Warn("repl: kernel isolation incomplete: Python code is contained only partly", "missing", strings.Join(l.Missing, "; "), "in_force", l.String())
		}
	}
	return nil
}

// Close kills and reaps the child process. It is safe to call more than once.
// It waits for running host functions to return; they see their context
// cancelled.
func (r *REPL) Close() error {
	if r == nil {
		return nil
	}
	r.closeOnce.Do(func() {
		r.stop()
		<-r.done
		r.closeErr = r.removeScratch()
	})
	return r.closeErr
}

// do hands req to the owner goroutine and waits for its response. Only an
// Exec waits past ctx: the owner interrupts the cell and answers once it
// has stopped.
func (r *REPL) do(ctx context.Context, req *request) response {
	req.reply = make(chan response, 1)
	select {
	case r.reqs <- req:
	case <-r.done:
		return response{err: ErrClosed}
	case <-ctx.Done():
		return response{err: fmt.Errorf("repl: %s: %w", req.kind, ctx.Err())}
	}
	var abandon <-chan struct{}
	if req.kind != reqExec {
		abandon = ctx.Done()
	}
	select {
	case resp := <-req.reply:
		return resp
	case <-r.done:
		select {
		case resp := <-req.reply:
			return resp
		default:
			return response{err: ErrClosed}
		}
	case <-abandon:
		return response{err: fmt.Errorf("repl: %s: %w", req.kind, ctx.Err())}
	}
}

func (r *REPL) makeScratch() error {
	dir := r.cfg.scratchDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "repl-"); err != nil {
			return fmt.Errorf("repl: start: scratch directory: %w", err)
		}
		r.ownScratch = true
	} else if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("repl: start: scratch directory %s: not a directory", dir)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err == nil {
		real, err = filepath.Abs(real)
	}
	if err != nil {
		r.removeScratch()
		return fmt.Errorf("repl: start: scratch directory: %w", err)
	}
	r.scratch = real
	return nil
}

func (r *REPL) removeScratch() error {
	if !r.ownScratch || r.scratch == "" {
		return nil
	}
	if err := os.RemoveAll(r.scratch); err != nil {
		return fmt.Errorf("repl: close: %w", err)
	}
	return nil
}

// readRoots lists the directories Python may read: its scratch directory,
// then the paths given (its own installation, the configured paths, the
// system's libraries), resolved.
func readRoots(scratch string, paths []string) []string {
	roots := []string{scratch}
	for _, p := range paths {
		if !filepath.IsAbs(p) {
			if abs, err := filepath.Abs(p); err == nil {
				p = abs
			}
		}
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		roots = append(roots, filepath.Clean(p))
	}
	return slices.Compact(roots)
}

// childEnv is the whole environment of the Python process.
func childEnv(scratch string, allow []string) []string {
	env := []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + scratch,
		"TMPDIR=" + scratch,
		"LANG=C.UTF-8",
	}
	for _, name := range allow {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	return env
}
