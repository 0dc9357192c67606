package repl

import (
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Option configures [Start].
type Option func(*config)

type config struct {
	python         string
	funcs          map[string]Func
	batchFuncs     map[string]batchFunc
	prelude        string
	outputLimit    int
	display        bool
	timeout        time.Duration
	interruptGrace time.Duration
	memoryLimit    int64
	cpuLimit       time.Duration
	maxOpenFiles   int
	maxProcesses   int
	maxFileSize    int64
	messageLimit   int
	readPaths      []string
	envAllow       []string
	scratchDir     string
	scratchQuota   int64
	isolation      Isolation
	cgroup         string
	logger         *slog.Logger
}

type batchFunc struct {
	concurrency int
	fn          BatchFunc
}

// Defaults of the options below.
const (
	DefaultOutputLimit    = 20_000
	DefaultInterruptGrace = 2 * time.Second
	DefaultMemoryLimit    = 2 << 30
	DefaultMaxOpenFiles   = 256
	DefaultMaxFileSize    = 1 << 30
	DefaultMessageLimit   = 64 << 20
)

func defaultConfig() config {
	return config{
		python:         "python3",
		outputLimit:    DefaultOutputLimit,
		interruptGrace: DefaultInterruptGrace,
		memoryLimit:    DefaultMemoryLimit,
		maxOpenFiles:   DefaultMaxOpenFiles,
		maxFileSize:    DefaultMaxFileSize,
		messageLimit:   DefaultMessageLimit,
		scratchQuota:   DefaultScratchQuota,
		logger:         slog.Default(),
	}
}

func (c *config) validate() error {
	for name := range c.funcs {
		if err := checkName(name); err != nil {
			return fmt.Errorf("repl: start: function %q: %w", name, err)
		}
		if _, ok := c.batchFuncs[name]; ok {
			return fmt.Errorf("repl: start: %q is registered both with WithFunc and WithBatchFunc", name)
		}
	}
	for name := range c.batchFuncs {
		if err := checkName(name); err != nil {
			return fmt.Errorf("repl: start: batch function %q: %w", name, err)
		}
	}
	switch {
	case c.outputLimit <= 0:
		return fmt.Errorf("repl: start: output limit %d is not positive", c.outputLimit)
	case c.messageLimit < 1<<16:
		return fmt.Errorf("repl: start: message limit %d is below 64 KiB", c.messageLimit)
	case c.interruptGrace <= 0:
		return fmt.Errorf("repl: start: interrupt grace %v is not positive", c.interruptGrace)
	case c.isolation < IsolationBestEffort || c.isolation > IsolationHookOnly:
		return fmt.Errorf("repl: start: unknown isolation level %d", int(c.isolation))
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return nil
}

// hostNames lists the names of the host functions, sorted.
func (c *config) hostNames() (funcs, batch []string) {
	for name := range c.funcs {
		funcs = append(funcs, name)
	}
	for name := range c.batchFuncs {
		batch = append(batch, name)
	}
	slices.Sort(funcs)
	slices.Sort(batch)
	return funcs, batch
}

// WithFunc registers fn under name in the Python namespace.
func WithFunc(name string, fn Func) Option {
	return func(c *config) {
		if c.funcs == nil {
			c.funcs = map[string]Func{}
		}
		c.funcs[name] = fn
	}
}

// WithBatchFunc registers a batched function under name: Python passes a
// list, Go handles up to concurrency items at once. A concurrency below 1
// means 1.
func WithBatchFunc(name string, concurrency int, fn BatchFunc) Option {
	return func(c *config) {
		if c.batchFuncs == nil {
			c.batchFuncs = map[string]batchFunc{}
		}
		c.batchFuncs[name] = batchFunc{concurrency: concurrency, fn: fn}
	}
}

// WithPrelude runs Python code in the namespace after the host bindings, at
// start and after every restart. Names it defines at top level are protected.
// It runs before the values bound with [REPL.Set] (which do not exist yet at
// [Start]), and its top-level code cannot call host functions; functions it
// defines can.
func WithPrelude(code string) Option { return func(c *config) { c.prelude = code } }

// WithOutputLimit caps stdout and stderr per cell, in characters. Default
// 20,000.
func WithOutputLimit(chars int) Option { return func(c *config) { c.outputLimit = chars } }

// WithDisplay shows the value of a cell's last statement when it is an
// expression, as a notebook does: its repr() is printed to the cell's
// stdout (and so cut at [WithOutputLimit]) unless it is None or the line
// ends with a semicolon. Default false: such a value is discarded, as in a
// script.
func WithDisplay(on bool) Option { return func(c *config) { c.display = on } }

// WithTimeout bounds the wall time of one cell. Default: none beyond the
// Exec context.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithInterruptGrace sets how long a cell has to stop after it is interrupted
// (timeout or cancelled context) before its process is killed and restarted.
// Default 2s.
func WithInterruptGrace(d time.Duration) Option { return func(c *config) { c.interruptGrace = d } }

// WithLogger sets the logger. Default: slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithPython sets the interpreter: a name looked up in PATH or a path.
// Default "python3". It must be CPython 3.8 or newer.
func WithPython(python string) Option { return func(c *config) { c.python = python } }

// WithMemoryLimit caps the address space of the Python process
// (RLIMIT_AS), in bytes. Default 2 GiB; 0 or less removes the limit.
func WithMemoryLimit(bytes int64) Option { return func(c *config) { c.memoryLimit = bytes } }

// WithCPULimit caps the CPU time of each cell (RLIMIT_CPU, in whole
// seconds, rounded up); a cell that exceeds it kills its process, which is
// restarted. Default: none.
func WithCPULimit(d time.Duration) Option { return func(c *config) { c.cpuLimit = d } }

// WithMaxOpenFiles caps the open file descriptors of the Python process
// (RLIMIT_NOFILE). Default 256; 0 or less keeps the host's limit.
func WithMaxOpenFiles(n int) Option { return func(c *config) { c.maxOpenFiles = n } }

// WithMaxProcesses sets RLIMIT_NPROC for the Python process. Default: not
// set. The kernel counts every process and thread of the user against it,
// not only this REPL's, and ignores it for root; the audit hook, which
// refuses process creation outright, is the control that always applies.
func WithMaxProcesses(n int) Option { return func(c *config) { c.maxProcesses = n } }

// WithMaxFileSize caps the size of any file the Python process writes
// (RLIMIT_FSIZE), in bytes. Default 1 GiB; 0 or less removes the limit.
func WithMaxFileSize(bytes int64) Option { return func(c *config) { c.maxFileSize = bytes } }

// WithMessageLimit caps one message between Go and Python, in bytes: a value
// bound with Set or read with Get, the arguments or the result of a host
// call. Default 64 MiB.
func WithMessageLimit(bytes int) Option { return func(c *config) { c.messageLimit = bytes } }

// WithReadPaths lets Python code read files and list directories under the
// given paths, besides its scratch directory and its own installation.
// Default: none.
func WithReadPaths(paths ...string) Option {
	return func(c *config) { c.readPaths = append(c.readPaths, paths...) }
}

// WithEnv passes the named variables of the host's environment to the Python
// process. By default nothing of the host's environment passes: the process
// sees only PATH, HOME and TMPDIR (both the scratch directory) and LANG.
func WithEnv(names ...string) Option {
	return func(c *config) { c.envAllow = append(c.envAllow, names...) }
}

// WithScratchDir sets the working directory of the Python process, the only
// place it may write. Default: a fresh temporary directory, removed by
// [REPL.Close]; a directory given here is left in place.
func WithScratchDir(dir string) Option { return func(c *config) { c.scratchDir = dir } }
