package rlm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// RLM answers questions about documents with a controller model that writes
// code and a worker model that reads chunks. Create one with [New]. An RLM
// holds only configuration: it is safe for concurrent use, and each
// [RLM.Run] has its own REPL, budgets and statistics.
type RLM struct {
	controller LM
	// workers maps names to workers; DefaultWorker is the one given to New.
	workers map[string]LM
	cfg     config
}

// DefaultWorker is the name of the worker given to [New]; code that passes
// no model= reaches it.
const DefaultWorker = "default"

// namedWorker is a worker added with WithWorker.
type namedWorker struct {
	name string
	lm   LM
}

// New returns an RLM whose controller writes the code and whose worker
// answers the sub-calls; [WithWorker] adds more workers by name. A nil
// worker means the controller answers them too.
func New(controller, worker LM, opts ...Option) (*RLM, error) {
	if controller == nil {
		return nil, ErrNoController
	}
	if worker == nil {
		worker = controller
	}
	cfg := defaultConfig()
	for _, opt := range opts {
		opt(&cfg)
	}
	return newRLM(controller, worker, cfg)
}

func newRLM(controller, worker LM, cfg config) (*RLM, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("rlm: new: %w", err)
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	if cfg.controllerContext == 0 {
		if l := limitsOf(controller); l.ContextTokens > l.ReplyTokens {
			cfg.controllerContext = l.ContextTokens - l.ReplyTokens
		}
	}
	workers := map[string]LM{DefaultWorker: worker}
	for _, w := range cfg.workers {
		workers[w.name] = w.lm
	}
	return &RLM{controller: controller, workers: workers, cfg: cfg}, nil
}

// with returns an RLM with the same models and further options, for one
// question of a session.
func (r *RLM) with(opts []Option) (*RLM, error) {
	if len(opts) == 0 {
		return r, nil
	}
	cfg := r.cfg
	cfg.observers = slices.Clip(cfg.observers)
	cfg.workers = slices.Clip(cfg.workers)
	cfg.replOptions = slices.Clip(cfg.replOptions)
	for _, opt := range opts {
		opt(&cfg)
	}
	if cfg.outputCap != r.cfg.outputCap || len(cfg.replOptions) != len(r.cfg.replOptions) {
		return nil, fmt.Errorf("rlm: ask: %w: the output cap and REPL options are fixed when the session starts", ErrInvalidOption)
	}
	return newRLM(r.controller, r.workers[DefaultWorker], cfg)
}

// worker returns the worker called name; "" is the default one.
func (r *RLM) worker(name string) (LM, error) {
	if name == "" {
		name = DefaultWorker
	}
	if lm, ok := r.workers[name]; ok {
		return lm, nil
	}
	return nil, fmt.Errorf("unknown model %q: the workers are %s", name, strings.Join(r.workerNames(), ", "))
}

// workerNames lists the workers' names, the default first.
func (r *RLM) workerNames() []string {
	names := []string{DefaultWorker}
	for _, w := range r.cfg.workers {
		names = append(names, w.name)
	}
	return names
}

// validWorkerName admits names that read well in Python and in prompts.
func validWorkerName(name string) bool {
	if name == "" || len(name) > 100 {
		return false
	}
	for _, r := range name {
		ok := r == '-' || r == '_' || r == '.' || r == '/' || r == ':' ||
			(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}

// errTimeLimit is the cause of a run's context when its time limit passes.
var errTimeLimit = errors.New("rlm: time limit reached")

// Run answers question about document. The controller is told the
// document's length and shape and the question, never the text; its code
// runs in a fresh REPL where the document is bound as `context` (also
// `prompt` and `context_0`) and the question as `question`. To ask several
// questions about the same documents with one REPL, use a [Session].
//
// Run returns a Go error only when it cannot do its job: an empty question,
// a REPL that does not start or fails, a controller call that fails (the
// adapter has already retried), or ctx done (the error then wraps
// ctx.Err()). Even then the Result says how far the run got, with
// [StopError] or [StopCancelled]. Running out of iterations, budgets or
// time is not an error: the Result has the best answer that could be had
// and its [StopReason].
func (r *RLM) Run(ctx context.Context, document, question string) (Result, error) {
	if question == "" {
		return Result{}, ErrEmptyQuestion
	}
	t, runCtx, cancel := r.newTree(ctx)
	defer cancel()
	return t.run(runCtx, runSpec{documents: []string{document}, question: question})
}

// newTree returns the state of one question and the context it runs under,
// which ends when the time limit passes.
func (r *RLM) newTree(ctx context.Context) (*tree, context.Context, context.CancelFunc) {
	t := &tree{
		rlm:       r,
		callerCtx: ctx,
		budget:    newBudget(r.cfg),
		obs:       &observers{list: r.cfg.observers},
		log:       r.cfg.logger,
	}
	if r.cfg.timeLimit <= 0 {
		return t, ctx, func() {}
	}
	t.deadline = time.Now().Add(r.cfg.timeLimit)
	runCtx, cancel := context.WithDeadlineCause(ctx, t.deadline, errTimeLimit)
	return t, runCtx, cancel
}

// tree is the state one [RLM.Run] or one question of a [Session] shares
// with its child RLMs.
type tree struct {
	rlm *RLM
	// callerCtx is the context given to Run, without the time limit: it
	// tells a caller's cancellation from the limit passing.
	callerCtx context.Context
	// deadline is when the time limit passes; zero without one.
	deadline time.Time
	budget   *budget
	obs      *observers
	log      *slog.Logger

	// lastCallID and lastRunID number sub-calls and child runs.
	lastCallID atomic.Int64
	lastRunID  atomic.Int64
}

// stopCause classifies an error that ended a run: the time limit passing is
// a stop reason, the caller's cancellation and anything else are errors.
func (t *tree) stopCause(ctx context.Context, err error) (StopReason, error) {
	switch {
	case t.callerCtx.Err() != nil:
		return StopCancelled, fmt.Errorf("rlm: run: %w", t.callerCtx.Err())
	case ctx.Err() != nil && errors.Is(context.Cause(ctx), errTimeLimit):
		return StopTimeLimit, nil
	default:
		return StopError, fmt.Errorf("rlm: run: %w", err)
	}
}
