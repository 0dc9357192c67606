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
	protocol          Protocol
	workers           []namedWorker
	compaction        float64
	cache             SubCallCache
	preamble          string
	header            func(document string) string
	independent       bool
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
		protocol:      ProtocolAnswer,
		compaction:    0.85,
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
	case c.protocol != ProtocolAnswer && c.protocol != ProtocolFinal:
		return fmt.Errorf("%w: unknown protocol %d", ErrInvalidOption, int(c.protocol))
	case c.compaction < 0 || c.compaction >= 1:
		return fmt.Errorf("%w: compaction threshold %g is not in [0, 1)", ErrInvalidOption, c.compaction)
	}
	seen := map[string]bool{DefaultWorker: true}
	for _, w := range c.workers {
		switch {
		case w.lm == nil:
			return fmt.Errorf("%w: worker %q is nil", ErrInvalidOption, w.name)
		case !validWorkerName(w.name):
			return fmt.Errorf("%w: worker name %q: use letters, digits and - _ . / :", ErrInvalidOption, w.name)
		case seen[w.name]:
			return fmt.Errorf("%w: worker %q given twice (%q names the worker passed to New)", ErrInvalidOption, w.name, DefaultWorker)
		}
		seen[w.name] = true
	}
	return nil
}

// WithProtocol sets the final-answer protocol the system prompt teaches
// (see [Protocol]). Both protocols are always accepted, whichever is
// taught: models trained on either speak it. Default [ProtocolAnswer], the
// one the reference implementation teaches since 2026.
func WithProtocol(p Protocol) Option { return func(c *config) { c.protocol = p } }

// WithWorker adds a worker under name, besides the one given to [New]
// (named [DefaultWorker]). Code chooses it with model=name in llm_query,
// sub_call, their batched and asynchronous forms and rlm_query; an unknown
// name raises an exception in Python. Use it for a small model on easy
// chunks and a larger or remote one on hard ones. Default: none.
func WithWorker(name string, lm LM) Option {
	return func(c *config) { c.workers = append(c.workers, namedWorker{name: name, lm: lm}) }
}

// WithCompaction sets when the controller's conversation is compacted: once
// it takes more than threshold of the controller's context (see
// [WithControllerContext]), the controller is asked for a summary of its
// work, which replaces every turn but the latest. If that fails (an error,
// an empty summary, one no shorter than what it replaces), old messages are
// shortened instead, as they are whenever the conversation still does not
// fit. Trajectories record each compaction ([CompactionEvent]). Default
// 0.85, the reference implementation's; 0 turns compaction off, leaving
// only the shortening.
func WithCompaction(threshold float64) Option { return func(c *config) { c.compaction = threshold } }

// WithTaskPreamble adds text to the controller's system prompt under a
// heading of its own: the conventions of a task or benchmark that hold for
// every question, such as the form answers must take. Default: none.
func WithTaskPreamble(text string) Option { return func(c *config) { c.preamble = text } }

// WithDocumentHeader shows the controller part of each document in its
// first message: header returns the text to show (for example the
// instructions and the cast list at the start of a transcript, before its
// first episode), or "" to show nothing. The controller otherwise never
// sees the document; what header returns reaches it verbatim, so return
// only what it should read. Default: none.
func WithDocumentHeader(header func(document string) string) Option {
	return func(c *config) { c.header = header }
}

// WithIndependentQuestions makes each question of a [Session] start as if
// it were asked alone: the variables and imports earlier questions' code
// defined are deleted and `history` is empty. The session still shares its
// REPL, the documents bound once, the sub-call cache ([WithSubCallCache])
// and the controller's prompt prefix. Use it where questions must not see
// each other's work, as in a benchmark. Default: questions see what earlier
// ones left.
func WithIndependentQuestions() Option { return func(c *config) { c.independent = true } }

// WithSubCallCache memoizes worker calls in cache: a call whose worker,
// sampling settings (see [Fingerprinter]) and messages match a stored one
// gets the stored answer without reaching the worker or the budgets. Hits
// are counted in [Stats.SubCallCacheHits] and marked in trajectories
// ([SubCallEvent.Cached]). [MemoryCache] keeps answers in memory and can
// persist them. Default: none.
func WithSubCallCache(cache SubCallCache) Option { return func(c *config) { c.cache = cache } }

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
// list, llm_query_batched) run at once, how many asynchronous sub-calls and
// child RLMs of rlm_query_batched run at once, and the largest batch sent
// to a [BatchLM] in one call. Default 16.
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
// too many small calls until told to send about that much at once. A worker
// that reports its context ([LimitedLM]) lowers it to what fits there.
func WithChunkChars(n int) Option { return func(c *config) { c.chunkChars = n } }

// WithControllerContext sets the tokens the controller's conversation may
// take (its context window less room for the reply). Past the
// [WithCompaction] threshold the conversation is compacted by a summary;
// when it would take more than 7/8 of it all the same, the oldest code
// outputs are shortened, then the oldest replies, then the oldest steps are
// dropped; the system prompt and the question are never touched. Tokens are
// estimated from characters, calibrated by the counts the controller
// reports. Default: what a controller that implements [LimitedLM] reports,
// else 0: no limit.
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
// engine sets the host functions, the prelude, the output limit and the
// notebook display itself.
// Default: none.
func WithREPLOptions(opts ...repl.Option) Option {
	return func(c *config) { c.replOptions = append(c.replOptions, opts...) }
}
