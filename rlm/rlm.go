package rlm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
)

// RLM answers questions about documents with a controller model that writes
// code and a worker model that reads chunks. Create one with [New]. An RLM
// holds only configuration: it is safe for concurrent use, and each
// [RLM.Run] has its own REPL, budgets and statistics.
type RLM struct {
	controller LM
	worker     LM
	cfg        config
}

// New returns an RLM whose controller writes the code and whose worker
// answers the sub-calls. A nil worker means the controller answers them
// too.
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
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("rlm: new: %w", err)
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	return &RLM{controller: controller, worker: worker, cfg: cfg}, nil
}

// errTimeLimit is the cause of a run's context when its time limit passes.
var errTimeLimit = errors.New("rlm: time limit reached")

// Run answers question about document. The controller is told the
// document's length and shape and the question, never the text; its code
// runs in a fresh REPL where the document is bound as `context` and
// `prompt` and the question as `question`.
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
	runCtx := ctx
	if r.cfg.timeLimit > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeoutCause(ctx, r.cfg.timeLimit, errTimeLimit)
		defer cancel()
	}
	t := &tree{
		rlm:       r,
		callerCtx: ctx,
		budget:    newBudget(r.cfg),
		obs:       &observers{list: r.cfg.observers},
		log:       r.cfg.logger,
	}
	return t.run(runCtx, runSpec{document: document, question: question})
}

// tree is the state one [RLM.Run] shares with its child RLMs.
type tree struct {
	rlm *RLM
	// callerCtx is the context given to Run, without the time limit: it
	// tells a caller's cancellation from the limit passing.
	callerCtx context.Context
	budget    *budget
	obs       *observers
	log       *slog.Logger

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
