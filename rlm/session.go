package rlm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrSessionClosed is returned by [Session.Ask] after [Session.Close].
var ErrSessionClosed = errors.New("rlm: session closed")

// ErrNoDocuments is returned by [RLM.NewSession] without a document.
var ErrNoDocuments = errors.New("rlm: no documents")

// Session answers several questions about the same documents with one REPL:
// the documents are sent to Python once, as context_0, context_1, ... (the
// first also as context and prompt), and what the controller's code computes
// for one question stays there for the next, next to a `history` of the
// questions answered so far ([WithIndependentQuestions] deletes them and
// leaves the history empty instead). Each question is a run of its own, with
// its own conversation, budgets, result and trajectory; the system prompt
// and the start of the first message stay the same, so that a controller
// that reuses a cached prompt prefix reuses them.
//
// A REPL that dies between questions is noticed when the next question
// starts: it is restarted with the documents and the history bound again,
// and the controller is told that its earlier variables are gone. If it
// cannot be restarted, that question fails with an error and the next one
// tries again.
//
// Questions are answered one at a time: Ask waits for the one before it.
// A Session is safe for concurrent use.
type Session struct {
	rlm  *RLM
	docs []string

	mu     sync.Mutex
	ws     *workspace
	turns  []Turn
	stats  Stats
	closed bool
}

// Turn is a question of a [Session] and what came of it.
type Turn struct {
	Question string `json:"question"`
	Result   Result `json:"result"`
	// Error is the text of the error [Session.Ask] returned, if any.
	Error string `json:"error,omitempty"`
}

// NewSession starts a REPL and binds the documents in it; ctx bounds the
// start. Close the Session when done.
func (r *RLM) NewSession(ctx context.Context, documents ...string) (*Session, error) {
	if len(documents) == 0 {
		return nil, ErrNoDocuments
	}
	docs := append([]string(nil), documents...)
	start := time.Now()
	ws, err := startWorkspace(ctx, &r.cfg, r.cfg.logger.With("session", true), docs)
	if err != nil {
		return nil, fmt.Errorf("rlm: session: start repl: %w", err)
	}
	s := &Session{rlm: r, docs: docs, ws: ws}
	s.stats.REPLStarts, s.stats.DocumentsBound = 1, len(docs)
	s.stats.Time.REPLStart = time.Since(start)
	s.stats.Time.Total = s.stats.Time.REPLStart
	return s, nil
}

// Ask answers question about the session's documents, as [RLM.Run] does,
// and adds it to the history. opts apply to this question only, on top of
// the RLM's options: budgets, iterations, the time limit, observers (a
// trajectory per question), workers and prompts; the output cap and the
// REPL options are fixed when the session starts, and changing them is an
// error.
func (s *Session) Ask(ctx context.Context, question string, opts ...Option) (Result, error) {
	if question == "" {
		return Result{}, ErrEmptyQuestion
	}
	r, err := s.rlm.with(opts)
	if err != nil {
		return Result{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Result{}, ErrSessionClosed
	}
	t, runCtx, cancel := r.newTree(ctx)
	defer cancel()
	res, err := t.run(runCtx, runSpec{
		documents: s.docs, question: question, ws: s.ws,
		session: true, turn: len(s.turns) + 1, history: s.turns,
	})
	turn := Turn{Question: question, Result: res}
	if err != nil {
		turn.Error = err.Error()
	}
	s.turns = append(s.turns, turn)
	s.stats.add(res.Stats)
	return res, err
}

// History returns the questions asked so far, in order.
func (s *Session) History() []Turn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Turn, len(s.turns))
	for i, t := range s.turns {
		out[i] = t
		out[i].Result.Stats = t.Result.Stats.clone()
	}
	return out
}

// Stats returns the statistics of the whole session: the REPL's start and
// every question, child RLMs included: Runs counts the questions and their
// child RLMs.
func (s *Session) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.clone()
}

// Close closes the REPL, after the question being answered, if any. It is
// safe to call more than once.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.ws.close(); err != nil {
		return fmt.Errorf("rlm: session: close: %w", err)
	}
	return nil
}

// historyValue is the `history` Python sees: one dict per earlier
// question.
func historyValue(turns []Turn) []any {
	out := make([]any, len(turns))
	for i, t := range turns {
		out[i] = map[string]any{
			"question": t.Question,
			"answer":   t.Result.Answer,
			"final":    t.Result.Final,
			"stop":     t.Result.Stop.String(),
		}
	}
	return out
}
