package rlm

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/go-rlm/rlm/repl"
)

// Option configures [New].
type Option func(*config)

type config struct {
	maxIterations     int
	maxDepth          int
	subCallBudget     int
	controllerTokens  int
	workerTokens      int
	timeLimit         time.Duration
	concurrency       int
	outputCap         int
	systemPrompt      string
	chunkChars        int
	controllerContext int
	logger            *slog.Logger
	observers         []Observer
	replOptions       []repl.Option
}

func defaultConfig() config {
	return config{
		maxIterations: 30,
		maxDepth:      1,
		concurrency:   16,
		outputCap:     20_000,
		chunkChars:    200_000,
	}
}

// validate reports options that make no sense; zero budgets mean unlimited.
func (c *config) validate() error {
	switch {
	case c.maxIterations < 1:
		return fmt.Errorf("%w: iterations %d < 1", ErrInvalidOption, c.maxIterations)
	case c.maxDepth < 1:
		return fmt.Errorf("%w: depth %d < 1", ErrInvalidOption, c.maxDepth)
	case c.concurrency < 1:
		return fmt.Errorf("%w: concurrency %d < 1", ErrInvalidOption, c.concurrency)
	case c.outputCap < 1:
		return fmt.Errorf("%w: output cap %d < 1", ErrInvalidOption, c.outputCap)
	case c.chunkChars < 1:
		return fmt.Errorf("%w: chunk size %d < 1", ErrInvalidOption, c.chunkChars)
	case c.subCallBudget < 0, c.controllerTokens < 0, c.workerTokens < 0, c.timeLimit < 0:
		return fmt.Errorf("%w: negative budget", ErrInvalidOption)
	case c.controllerContext < 0:
		return fmt.Errorf("%w: controller context %d < 0", ErrInvalidOption, c.controllerContext)
	}
	return nil
}

// WithMaxIterations sets how many replies the controller may write before it
// is asked once more, without code, for its answer. Default 30.
func WithMaxIterations(n int) Option { return func(c *config) { c.maxIterations = n } }

// WithMaxDepth sets the recursion depth. At depth 1 (the default) code calls
// only the worker, and rlm_query is a plain worker call; at depth 2,
// rlm_query starts a child RLM (with the same models and options) whose own
// rlm_query is a plain worker call; and so on.
func WithMaxDepth(n int) Option { return func(c *config) { c.maxDepth = n } }

// WithSubCallBudget caps the sub-calls of a run, child RLMs included.
// Further sub-calls return an error string to Python, and the run stops with
// [StopSubCallBudget] after asking the controller for an answer. Default 0:
// unlimited.
func WithSubCallBudget(n int) Option { return func(c *config) { c.subCallBudget = n } }

// WithControllerTokenBudget caps the controller's tokens (prompt plus
// completion) over a run; the run stops with [StopControllerTokens] when they
// are spent. Default 0: unlimited.
func WithControllerTokenBudget(n int) Option { return func(c *config) { c.controllerTokens = n } }

// WithWorkerTokenBudget caps the worker's tokens (prompt plus completion)
// over a run. Once spent, sub-calls return an error string to Python, and the
// run stops with [StopWorkerTokens] after asking the controller for an
// answer. Default 0: unlimited.
func WithWorkerTokenBudget(n int) Option { return func(c *config) { c.workerTokens = n } }

// WithTimeLimit caps the wall time of a run. When it passes, the model call
// or code in flight is cancelled and the run returns with [StopTimeLimit]
// and no error. Default 0: no limit beyond the context given to [RLM.Run].
func WithTimeLimit(d time.Duration) Option { return func(c *config) { c.timeLimit = d } }

// WithConcurrency sets how many sub-calls of one batch (sub_call over a
// list, llm_query_batched) run at once, and the largest batch sent to a
// [BatchLM] in one call. Default 16.
func WithConcurrency(n int) Option { return func(c *config) { c.concurrency = n } }

// WithOutputCap caps the stdout and the stderr of each code block fed back
// to the controller, in characters. Default 20,000.
func WithOutputCap(chars int) Option { return func(c *config) { c.outputCap = chars } }

// WithSystemPrompt replaces the controller's system prompt. Default: the
// text of [DefaultSystemPrompt] for the other options.
func WithSystemPrompt(prompt string) Option { return func(c *config) { c.systemPrompt = prompt } }

// WithChunkChars sets the chunk size, in characters, that the default
// system prompt asks the controller to use per sub-call. Default 200,000:
// the RLM paper found that Qwen-class controllers split documents into far
// too many small calls until told to send about that much at once. Lower it
// to fit the worker's context window (about 4 characters a token).
func WithChunkChars(n int) Option { return func(c *config) { c.chunkChars = n } }

// WithControllerContext sets the controller's context window in tokens.
// When the conversation would take more than 7/8 of it (leaving room for the
// reply), the oldest code outputs are shortened, then the oldest replies,
// then the oldest steps are dropped; the system prompt and the question are
// never touched. Tokens are estimated from characters, calibrated by the
// counts the controller reports. Default 0: no limit.
func WithControllerContext(tokens int) Option {
	return func(c *config) { c.controllerContext = tokens }
}

// WithLogger sets the logger for run, iteration and sub-call records.
// Default: slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithObserver adds an observer; each one given is called. Default: none.
func WithObserver(o Observer) Option {
	return func(c *config) { c.observers = append(c.observers, o) }
}

// WithTrajectory writes a JSONL trajectory of every run to w (see
// [TrajectoryWriter]); records of concurrent runs would interleave, so give
// each concurrent run its own [RLM]. Write errors are not reported: to
// check them, pass a [NewTrajectoryWriter]'s Observer to [WithObserver] and
// call its Err. Default: none.
func WithTrajectory(w io.Writer) Option {
	return WithObserver(NewTrajectoryWriter(w).Observer())
}

// WithREPLOptions passes options to [repl.Start] for every run's REPL, for
// example the Python interpreter, memory limits or a cell timeout. The
// engine sets the host functions, the prelude and the output limit itself.
// Default: none.
func WithREPLOptions(opts ...repl.Option) Option {
	return func(c *config) { c.replOptions = append(c.replOptions, opts...) }
}
