package serve

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/go-rlm/rlm/rlm"
)

// This file and trajectories.go are the server's only contact with the rlm
// engine: building one RLM per request, running it, observing it.

// Model is a name the server answers to: an RLM made of a controller, a
// worker and engine options. Several models may share adapters; every
// request to a model shares its adapters with the other requests, so an
// adapter that batches concurrent calls (rlm/local) decodes the sub-calls
// of different requests together.
type Model struct {
	// Name is the model's ID in requests and in GET /v1/models.
	Name string
	// Controller writes the code; Worker answers the sub-calls (nil: the
	// controller answers them too). Both must be safe for concurrent use.
	Controller rlm.LM
	Worker     rlm.LM
	// Options configure the engine for every request to this model (see
	// rlm.New). The server's [Limits] and its own observer apply after
	// them. Do not give rlm.WithTrajectory here: the server keeps each
	// request's trajectory itself.
	Options []rlm.Option
}

// check reports a model that rlm.New would refuse.
func (m *Model) check() error {
	if _, err := rlm.New(m.Controller, m.Worker, m.Options...); err != nil {
		return fmt.Errorf("model %q: %w", m.Name, err)
	}
	return nil
}

// job is what one request asks of its model.
type job struct {
	id                 string
	document, question string
	limits             Limits
	trajectory         *rlm.Trajectory
	log                *slog.Logger
	// progress, when not nil, gets the run's events as they happen, one at
	// a time.
	progress func(Progress)
}

// outcome is what a run gave.
type outcome struct {
	answer string
	// finish is the Chat Completions finish reason: "stop" when the
	// controller answered, "length" when a limit ended the run.
	finish string
	usage  usage
	info   RunInfo
	// cancelled reports that the run ended because its context did, and
	// shutdown that the server's shutdown did that (err is then set too).
	cancelled bool
	shutdown  bool
	err       error
}

// run answers j with a fresh RLM of model m; ctx ends it early.
func (m *Model) run(ctx context.Context, j job) outcome {
	opts := []rlm.Option{rlm.WithLogger(j.log)}
	opts = append(opts, m.Options...)
	opts = append(opts, limitOptions(j.limits)...)
	opts = append(opts, rlm.WithObserver(j.trajectory.Observer()))
	if j.progress != nil {
		opts = append(opts, rlm.WithObserver(progressObserver(j.progress)))
	}
	engine, err := rlm.New(m.Controller, m.Worker, opts...)
	if err != nil {
		return outcome{err: err}
	}
	res, err := engine.Run(ctx, j.document, j.question)
	s := res.Stats
	out := outcome{
		answer: res.Answer,
		finish: "length",
		usage: usage{
			PromptTokens:     s.Controller.PromptTokens + s.Worker.PromptTokens,
			CompletionTokens: s.Controller.CompletionTokens + s.Worker.CompletionTokens,
			TotalTokens:      s.Controller.Tokens() + s.Worker.Tokens(),
		},
		info: RunInfo{
			Stop: res.Stop.String(), Final: res.Final,
			Iterations: s.Iterations, CodeBlocks: s.CodeBlocks, CodeBlocksFailed: s.CodeBlocksFailed,
			SubCalls: s.SubCalls, SubCallsFailed: s.SubCallsFailed,
			Usage:   ModelUsage{Controller: modelUsage(s.Controller), Worker: modelUsage(s.Worker)},
			Seconds: s.Time.Total.Seconds(),
		},
		cancelled: res.Stop == rlm.StopCancelled,
		err:       err,
	}
	if res.Stop == rlm.StopFinal {
		out.finish = "stop"
	}
	return out
}

// limitOptions turns the limits a request runs under into engine options;
// zero limits add none, leaving the model's options in force.
func limitOptions(l Limits) []rlm.Option {
	var opts []rlm.Option
	if l.MaxIterations > 0 {
		opts = append(opts, rlm.WithMaxIterations(l.MaxIterations))
	}
	if l.MaxSubCalls > 0 {
		opts = append(opts, rlm.WithSubCallBudget(l.MaxSubCalls))
	}
	if l.MaxControllerTokens > 0 {
		opts = append(opts, rlm.WithControllerTokenBudget(l.MaxControllerTokens))
	}
	if l.MaxWorkerTokens > 0 {
		opts = append(opts, rlm.WithWorkerTokenBudget(l.MaxWorkerTokens))
	}
	if l.TimeLimit > 0 {
		opts = append(opts, rlm.WithTimeLimit(l.TimeLimit))
	}
	return opts
}

func modelUsage(u rlm.Usage) Usage {
	return Usage{Calls: u.Calls, PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.Tokens()}
}

// progressObserver reports a run's events to send, with running totals.
// The engine calls an observer one event at a time, so the totals need no
// lock.
func progressObserver(send func(Progress)) rlm.Observer {
	var iterations, blocks, calls int
	emit := func(p Progress) {
		p.Iterations, p.CodeBlocks, p.SubCalls = iterations, blocks, calls
		send(p)
	}
	return rlm.Observer{
		RunStart: func(e rlm.RunStartEvent) {
			if e.Run > 0 { // the root's start is reported as "started"
				emit(Progress{Event: "run_start", Run: e.Run, Depth: e.Depth})
			}
		},
		Iteration: func(e rlm.IterationEvent) {
			iterations++
			emit(Progress{Event: "iteration", Run: e.Run, Depth: e.Depth, Iteration: e.Iteration})
		},
		CodeBlock: func(e rlm.CodeBlockEvent) {
			blocks++
			emit(Progress{Event: "code_block", Run: e.Run, Depth: e.Depth, Iteration: e.Iteration})
		},
		SubCall: func(e rlm.SubCallEvent) {
			calls++
			emit(Progress{Event: "sub_call", Run: e.Run, Depth: e.Depth - 1, Iteration: e.Iteration,
				SubCall: e.ID, Kind: string(e.Kind), Error: e.Error})
		},
	}
}

// newTrajectory returns an empty trajectory for a run to fill.
func newTrajectory() *rlm.Trajectory { return &rlm.Trajectory{} }
