package repl

import (
	"context"
	"fmt"
	"sync"
)

// callResult is the answer to one host call, computed in its own goroutine
// and written by the owner.
type callResult struct {
	cell  *cell
	gen   uint64
	size  int // of the call's message
	frame outFrame
}

// inflightLimit bounds the messages of the host calls a REPL serves at once,
// in multiples of the message limit: each holds its frame and its decoded
// arguments, so threads that each send a large call cannot multiply the
// host's memory.
const inflightLimit = 4

// dispatchCall runs a host call from Python in a goroutine. Calls that come
// while no cell runs (from a thread a cell left behind) are refused.
func (o *owner) dispatchCall(msg *childMsg) {
	c := o.cell
	switch {
	case c == nil || !c.running():
		o.child.send(retErrorFrame(msg.ID, fmt.Sprintf("repl: host function %s called while no cell is running", msg.Name)))
		return
	case c.stop != notStopped:
		o.child.send(retErrorFrame(msg.ID, fmt.Sprintf("repl: host function %s called while the cell is being interrupted", msg.Name)))
		return
	case c.inflightBytes > 0 && c.inflightBytes+msg.size > inflightLimit*o.r.cfg.messageLimit:
		o.child.send(retErrorFrame(msg.ID, fmt.Sprintf("repl: host function %s refused: the host calls in flight already hold %d bytes of messages", msg.Name, c.inflightBytes)))
		return
	}
	c.inflight++
	c.inflightBytes += msg.size
	gen := o.gen
	go func() {
		o.calls <- callResult{cell: c, gen: gen, size: msg.size, frame: o.r.serveCall(c.callCtx, msg)}
	}()
}

func (o *owner) finishCall(res callResult) {
	res.cell.inflight--
	res.cell.inflightBytes -= res.size
	if o.child != nil && res.gen == o.gen {
		o.child.send(res.frame) // also when the cell is over: a thread of it may wait
	}
	o.maybeFinish()
}

// serveCall runs the Go function Python called and encodes its answer.
func (r *REPL) serveCall(ctx context.Context, msg *childMsg) outFrame {
	v, err := r.invoke(ctx, msg)
	if err != nil {
		return retErrorFrame(msg.ID, err.Error())
	}
	return retFrame(msg.ID, v, r.cfg.messageLimit)
}

func (r *REPL) invoke(ctx context.Context, msg *childMsg) (any, error) {
	if msg.Batch {
		bf, ok := r.cfg.batchFuncs[msg.Name]
		if !ok {
			return nil, fmt.Errorf("repl: no batched host function %s", msg.Name)
		}
		return runBatch(ctx, msg.Name, bf, msg.Items)
	}
	fn, ok := r.cfg.funcs[msg.Name]
	if !ok {
		return nil, fmt.Errorf("repl: no host function %s", msg.Name)
	}
	var kwargs map[string]any
	if len(msg.Kwargs) > 0 {
		kwargs = msg.Kwargs
	}
	return callFunc(ctx, msg.Name, fn, msg.Args, kwargs)
}

// callFunc calls fn, turning a panic into an error: a bug in a host function
// fails its call, not the program.
func callFunc(ctx context.Context, name string, fn Func, args []any, kwargs map[string]any) (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, fmt.Errorf("repl: host function %s panicked: %v", name, p)
		}
	}()
	return fn(ctx, args, kwargs)
}

// runBatch calls bf for every item, at most bf.concurrency at once, and
// returns the results in the order of the items. The first failure cancels
// the items still running and is what Python sees.
func runBatch(ctx context.Context, name string, bf batchFunc, items []any) ([]any, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]any, len(items))
	var (
		mu       sync.Mutex
		failed   = -1
		failure  error
		wg       sync.WaitGroup
		slots    = make(chan struct{}, max(bf.concurrency, 1))
		launched = 0
	)
launch:
	for i, item := range items {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			break launch
		}
		launched++
		wg.Go(func() {
			defer func() { <-slots }()
			v, err := callFunc(ctx, name, func(ctx context.Context, _ []any, _ map[string]any) (any, error) {
				return bf.fn(ctx, item)
			}, nil, nil)
			if err != nil {
				mu.Lock()
				if failure == nil {
					failed, failure = i, err
					cancel()
				}
				mu.Unlock()
				return
			}
			results[i] = v
		})
	}
	wg.Wait()
	if failure != nil {
		return nil, fmt.Errorf("item %d: %w", failed, failure)
	}
	if launched < len(items) {
		return nil, ctx.Err()
	}
	return results, nil
}
