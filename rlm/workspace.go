package rlm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/go-rlm/rlm/repl"
)

// workspace is a REPL with documents bound in it: a run of its own for
// [RLM.Run] and each child RLM, shared by the questions of a [Session].
// Every use the engine makes of package repl goes through it. Its host
// functions serve the run that uses it now.
type workspace struct {
	repl *repl.REPL
	docs []string

	mu      sync.Mutex
	current *run
	handles handles
}

// errNoQuestion answers a host call that comes when no run uses the
// workspace, from a thread a cell left behind.
var errNoQuestion = errors.New("no question is being answered")

// startWorkspace starts a REPL and binds docs as context_0, context_1, ...,
// and the first also as context and prompt. The REPL sends a string equal
// to one already bound only once.
func startWorkspace(ctx context.Context, cfg *config, log *slog.Logger, docs []string) (*workspace, error) {
	ws := &workspace{docs: docs}
	opts := append([]repl.Option{repl.WithLogger(log)}, cfg.replOptions...)
	opts = append(opts, ws.hostOptions()...)
	opts = append(opts, repl.WithOutputLimit(cfg.outputCap), repl.WithPrelude(prelude), repl.WithDisplay(true))
	r, err := repl.Start(ctx, opts...)
	if err != nil {
		return nil, err
	}
	ws.repl = r
	for i, doc := range docs {
		if err := ws.set(ctx, contextName(i), doc); err != nil {
			r.Close()
			return nil, err
		}
	}
	for _, name := range []string{"context", "prompt"} {
		if err := ws.set(ctx, name, docs[0]); err != nil {
			r.Close()
			return nil, err
		}
	}
	return ws, nil
}

func contextName(i int) string { return "context_" + strconv.Itoa(i) }

func (ws *workspace) close() error { return ws.repl.Close() }

func (ws *workspace) set(ctx context.Context, name string, value any) error {
	if err := ws.repl.Set(ctx, name, value); err != nil {
		return fmt.Errorf("bind %s: %w", name, err)
	}
	return nil
}

func (ws *workspace) exec(ctx context.Context, code string) (repl.Result, error) {
	return ws.repl.Exec(ctx, code)
}

// attach makes ru the run host functions serve.
func (ws *workspace) attach(ru *run) {
	ws.mu.Lock()
	ws.current = ru
	ws.mu.Unlock()
}

func (ws *workspace) detach(ru *run) {
	ws.mu.Lock()
	if ws.current == ru {
		ws.current = nil
	}
	ws.mu.Unlock()
}

func (ws *workspace) running() *run {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return ws.current
}

// begin readies the REPL for ru's question: it binds the question (and a
// session's history), and makes a fresh answer dict. restarted reports
// that the Python process had died since the last question and was
// started anew, with the documents bound again but other variables lost.
func (ws *workspace) begin(ctx context.Context, ru *run) (restarted bool, err error) {
	ws.attach(ru)
	start := time.Now()
	// Under ProtocolFinal, `answer` is the code's own name unless it holds
	// a dict: a session keeps what an earlier question stored there.
	// A session's independent question forgets what earlier ones defined.
	forget := ru.spec.session && ru.cfg.independent
	code := fmt.Sprintf("_rlm_begin(%s, %s)", pythonBool(ru.cfg.protocol == ProtocolAnswer), pythonBool(forget))
	res, err := ws.exec(ctx, code)
	if err == nil && res.Restarted {
		// The process was found dead: this cell may have died with it. Run
		// it again in the new one.
		restarted = true
		res, err = ws.exec(ctx, code)
	}
	if err != nil {
		return false, fmt.Errorf("prepare: %w", err)
	}
	if res.Exception != nil {
		return false, fmt.Errorf("prepare: %s: %s", res.Exception.Type, res.Exception.Message)
	}
	if err := ws.set(ctx, "question", ru.spec.question); err != nil {
		return false, err
	}
	if ru.spec.session {
		history := ru.spec.history
		if forget {
			history = nil
		}
		if err := ws.set(ctx, "history", historyValue(history)); err != nil {
			return false, err
		}
	}
	restarted = restarted || res.Restarted
	if restarted {
		ru.log.Warn("rlm: the REPL had died since the last question; restarted it", "took", time.Since(start))
	}
	return restarted, nil
}

// hostFunc is a host function as the engine writes it: for the run that
// uses the workspace.
type hostFunc func(ru *run, ctx context.Context, args []any, kwargs map[string]any) (any, error)

func (ws *workspace) host(fn hostFunc) repl.Func {
	return func(ctx context.Context, args []any, kwargs map[string]any) (any, error) {
		ru := ws.running()
		if ru == nil {
			return nil, errNoQuestion
		}
		return fn(ru, ctx, args, kwargs)
	}
}

// hostOptions registers the Go side of the host functions.
func (ws *workspace) hostOptions() []repl.Option {
	return []repl.Option{
		repl.WithFunc("sub_call", ws.host((*run).hostSubCall)),
		repl.WithFunc("llm_query", ws.host((*run).hostLLMQuery)),
		repl.WithFunc("llm_query_batched", ws.host((*run).hostLLMQueryBatched)),
		repl.WithFunc("rlm_query", ws.host((*run).hostRLMQuery)),
		repl.WithFunc("rlm_query_batched", ws.host((*run).hostRLMQueryBatched)),
		repl.WithFunc("_rlm_final", ws.host((*run).hostFinal)),
		repl.WithFunc("_rlm_answer_restored", ws.host((*run).hostAnswerRestored)),
		repl.WithFunc("_rlm_async_start", ws.host((*run).hostAsyncStart)),
		repl.WithFunc("_rlm_async_wait", ws.host((*run).hostAsyncWait)),
		repl.WithFunc("_rlm_async_cancel", ws.host((*run).hostAsyncCancel)),
	}
}

func pythonBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}
