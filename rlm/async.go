package rlm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Asynchronous sub-calls: llm_query_async and sub_call_async start worker
// calls that run while the code goes on, and return handles that Python
// waits on. They go through the same path as synchronous calls (budgets,
// cache, events), each with a context of its own under the run's, so that
// a handle can be cancelled alone and the run's end cancels every call
// still in flight. A batching worker sees them as concurrent calls: the
// local adapter decodes whatever is in flight together.

// The causes that end an asynchronous call early; trajectories report them.
var (
	errAsyncCancelled = errors.New("cancelled by the code")
	errRunEnded       = errors.New("cancelled: the run ended before the call was joined")
)

// handles are the asynchronous calls started in a workspace, by the number
// Python holds. They outlive the run that started them, so that a handle
// kept in a variable still answers in a later question of a session.
type handles struct {
	mu     sync.Mutex
	lastID int64
	calls  map[int64]*asyncCall
}

type asyncCall struct {
	cancel context.CancelCauseFunc
	done   chan struct{} // closed once answer is set
	answer string
}

func (h *handles) add(c *asyncCall) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.calls == nil {
		h.calls = map[int64]*asyncCall{}
	}
	h.lastID++
	h.calls[h.lastID] = c
	return h.lastID
}

func (h *handles) get(id int64) (*asyncCall, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.calls[id]; ok {
		return c, nil
	}
	return nil, fmt.Errorf("no sub-call has handle %d", id)
}

// asyncRuns is a run's share of the asynchronous calls: their common
// context, their goroutines and the slots that bound how many run at once.
type asyncRuns struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup
	slots  chan struct{}
}

func newAsyncRuns(ctx context.Context, concurrency int) *asyncRuns {
	a := &asyncRuns{slots: make(chan struct{}, concurrency)}
	a.ctx, a.cancel = context.WithCancelCause(ctx)
	return a
}

// stop cancels the calls still in flight and waits for their goroutines:
// none is left when a run ends.
func (a *asyncRuns) stop() {
	a.cancel(errRunEnded)
	a.wg.Wait()
}

// startAsync starts calls in the background on the named worker and
// returns their handles.
func (ru *run) startAsync(calls []workerCall, worker string) []any {
	site := ru.site()
	site.async = true
	ids := make([]any, len(calls))
	for i, call := range calls {
		ctx, cancel := context.WithCancelCause(ru.async.ctx)
		c := &asyncCall{cancel: cancel, done: make(chan struct{})}
		ids[i] = ru.ws.handles.add(c)
		ru.async.wg.Add(1)
		go func() {
			defer ru.async.wg.Done()
			defer cancel(nil)
			select {
			case ru.async.slots <- struct{}{}:
				defer func() { <-ru.async.slots }()
			case <-ctx.Done():
			}
			c.answer = ru.callWorker(ctx, site, worker, []workerCall{call})[0]
			close(c.done)
		}()
	}
	ru.mu.Lock()
	ru.blockSubCalls += len(calls)
	ru.mu.Unlock()
	return ids
}

// hostAsyncStart is _rlm_async_start(kind, items, query, model), behind
// llm_query_async and sub_call_async.
func (ru *run) hostAsyncStart(_ context.Context, args []any, _ map[string]any) (any, error) {
	if len(args) != 4 {
		return nil, fmt.Errorf("_rlm_async_start takes 4 arguments, got %d", len(args))
	}
	kind, _ := args[0].(string)
	items, ok := args[1].([]any)
	if !ok {
		return nil, fmt.Errorf("%s_async: expected a list, got %s", kind, pythonType(args[1]))
	}
	worker, err := ru.workerArg(kind+"_async", args[3])
	if err != nil {
		return nil, err
	}
	calls := make([]workerCall, len(items))
	switch kind {
	case "llm_query":
		for i, item := range items {
			prompt, err := stringArg("llm_query_async", "prompt", item)
			if err != nil {
				return nil, err
			}
			calls[i] = promptCall(KindLLMQuery, prompt)
		}
	case "sub_call":
		query, err := stringArg("sub_call_async", "query", args[2])
		if err != nil {
			return nil, err
		}
		for i, item := range items {
			chunk, ok := item.(string)
			if !ok {
				return nil, fmt.Errorf("sub_call_async: chunk %d is %s, not a str", i, pythonType(item))
			}
			calls[i] = chunkCall(KindSubCall, chunk, query)
		}
	default:
		return nil, fmt.Errorf("_rlm_async_start: unknown kind %q", kind)
	}
	return ru.startAsync(calls, worker), nil
}

// hostAsyncWait is _rlm_async_wait(ids, timeout): for each handle, whether
// its call is done and its answer. It waits until all are done or timeout
// seconds (None: no limit) have passed.
func (ru *run) hostAsyncWait(ctx context.Context, args []any, _ map[string]any) (any, error) {
	calls, err := ru.handleArgs("wait", args)
	if err != nil {
		return nil, err
	}
	var expired <-chan time.Time
	if len(args) > 1 && args[1] != nil {
		seconds, ok := number(args[1])
		if !ok {
			return nil, fmt.Errorf("timeout must be a number of seconds or None, not %s", pythonType(args[1]))
		}
		timer := time.NewTimer(time.Duration(max(seconds, 0) * float64(time.Second)))
		defer timer.Stop()
		expired = timer.C
	}
	out := make([]any, len(calls))
	timedOut := false
	for i, c := range calls {
		if !timedOut {
			select {
			case <-c.done:
			case <-expired:
				timedOut = true
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		select {
		case <-c.done:
			out[i] = []any{true, c.answer}
		default:
			out[i] = []any{false, ""}
		}
	}
	return out, nil
}

// hostAsyncCancel is _rlm_async_cancel(ids): it cancels the calls still
// running and says, for each, whether it was.
func (ru *run) hostAsyncCancel(_ context.Context, args []any, _ map[string]any) (any, error) {
	calls, err := ru.handleArgs("cancel", args)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(calls))
	for i, c := range calls {
		select {
		case <-c.done:
			out[i] = false
		default:
			c.cancel(errAsyncCancelled)
			out[i] = true
		}
	}
	return out, nil
}

func (ru *run) handleArgs(op string, args []any) ([]*asyncCall, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("%s: no handles", op)
	}
	ids, ok := args[0].([]any)
	if !ok {
		return nil, fmt.Errorf("%s: expected a list of handles", op)
	}
	calls := make([]*asyncCall, len(ids))
	for i, v := range ids {
		id, ok := v.(int64)
		if !ok {
			return nil, fmt.Errorf("%s: %v is not a sub-call handle", op, v)
		}
		c, err := ru.ws.handles.get(id)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		calls[i] = c
	}
	return calls, nil
}

// number reads a Python int or float.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}
