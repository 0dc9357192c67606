package rlm_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/rlmtest"
)

// blockingWorker answers prompts that start with "fast" at once and blocks
// on the others until their context ends.
func blockingWorker(started *atomic.Int32) *rlmtest.LM {
	return rlmtest.Func(func(ctx context.Context, _ int, messages []rlm.Message) (string, error) {
		prompt := lastUser(messages)
		if strings.HasPrefix(prompt, "fast") {
			return strings.ToUpper(prompt), nil
		}
		if started != nil {
			started.Add(1)
		}
		<-ctx.Done()
		return "", ctx.Err()
	})
}

func TestAsyncSubCalls(t *testing.T) {
	controller := rlmtest.Replies([]string{
		code(
			"hs = sub_call_async([context[:4], context[4:8]], 'q')",
			"h = llm_query_async('third')",
			"print(type(hs).__name__, len(hs), repr(h).startswith('<sub-call'))",
			"local = sum(range(10))",
		),
		code("print(wait_all(hs + [h]), h.done(), h.result())"),
		"FINAL(done)",
	})
	r, traj := newRLM(t, controller, echoWorker())
	res, err := r.Run(testContext(t), smallDoc, "q?")
	require.NoError(t, err)
	require.Equal(t, "done", res.Answer)

	blocks := codeBlocks(traj)
	assert.Contains(t, blocks[0].Stdout, "list 2 True")
	assert.Equal(t, 3, blocks[0].SubCalls, "asynchronous calls count for the block that starts them")
	assert.Contains(t, blocks[1].Stdout, `Question: q', 'third'] True third`)
	assert.Contains(t, blocks[1].Stdout, `Matt`)
	events := subCalls(traj)
	require.Len(t, events, 3)
	for _, e := range events {
		assert.True(t, e.Async)
		assert.Equal(t, 1, e.Iteration, "an event names the block that started the call")
		assert.Equal(t, 1, e.Block)
		assert.Empty(t, e.Error)
	}
	assert.Equal(t, 3, res.Stats.SubCalls)
	assert.Equal(t, 3, res.Stats.SubCallsAsync)
}

func TestAsyncBudget(t *testing.T) {
	controller := rlmtest.Replies([]string{
		code("print(wait_all([llm_query_async('fast %d' % i) for i in range(3)]))"),
		"FINAL(partial)",
	})
	r, traj := newRLM(t, controller, blockingWorker(nil), rlm.WithSubCallBudget(2))
	res, err := r.Run(testContext(t), smallDoc, "q?")
	require.NoError(t, err)
	assert.Equal(t, rlm.StopSubCallBudget, res.Stop)
	assert.Contains(t, codeBlocks(traj)[0].Stdout, "['FAST 0', 'FAST 1', 'Error: sub-call budget exhausted']")
	assert.Equal(t, 2, res.Stats.SubCalls)
}

func TestAsyncCancelAndTimeout(t *testing.T) {
	controller := rlmtest.Replies([]string{
		code(
			"h = llm_query_async('slow')",
			"try:",
			"    h.result(timeout=0.05)",
			"except TimeoutError as e:",
			"    print('timeout:', e)",
			"print(h.done(), h.cancel(), h.cancel())",
			"print(h.result())",
		),
		code("SubCallHandle(999).result()"),
		"FINAL(done)",
	})
	r, traj := newRLM(t, controller, blockingWorker(nil))
	_, err := r.Run(testContext(t), smallDoc, "q?")
	require.NoError(t, err)
	blocks := codeBlocks(traj)
	out := blocks[0].Stdout
	assert.Contains(t, out, "timeout: sub-call 1 is still running after 0.05 s")
	assert.Contains(t, out, "False True False\n", "cancel stops a running call once")
	assert.Contains(t, out, "Error: cancelled by the code")
	events := subCalls(traj)
	require.Len(t, events, 1)
	assert.Equal(t, "cancelled by the code", events[0].Error)
	require.NotNil(t, blocks[1].Exception, "a handle that names no call")
	assert.Contains(t, blocks[1].Exception.Message, "no sub-call has handle 999")
}

func TestAsyncNeverJoined(t *testing.T) {
	requirePython(t)
	var started atomic.Int32
	controller := rlmtest.Replies([]string{
		code("hs = [llm_query_async('slow %d' % i) for i in range(3)]", "FINAL('without waiting')"),
	})
	r, traj := newRLM(t, controller, blockingWorker(&started))
	baseline := runtime.NumGoroutine()
	begin := time.Now()
	res, err := r.Run(testContext(t), smallDoc, "q?")
	require.NoError(t, err)
	assert.Equal(t, "without waiting", res.Answer)
	assert.Less(t, time.Since(begin), 30*time.Second, "Run does not wait for calls nobody joins")
	assert.True(t, waitForGoroutines(baseline), "goroutines left behind: %d > %d", runtime.NumGoroutine(), baseline)
	events := subCalls(traj)
	require.Len(t, events, 3, "calls cancelled at the end are still reported")
	for _, e := range events {
		assert.Equal(t, "cancelled: the run ended before the call was joined", e.Error)
	}
	last := traj.Records[len(traj.Records)-1]
	assert.Equal(t, rlm.RecordRunEnd, last.Type, "no event after the run's end")
	assert.Equal(t, 3, res.Stats.SubCallsFailed)
}

func TestAsyncCancelledRun(t *testing.T) {
	requirePython(t)
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	var started atomic.Int32
	controller := rlmtest.Func(func(ctx context.Context, call int, _ []rlm.Message) (string, error) {
		if call == 0 {
			return code("hs = [llm_query_async('slow %d' % i) for i in range(4)]"), nil
		}
		for started.Load() < 4 {
			time.Sleep(time.Millisecond)
		}
		cancel()
		<-ctx.Done()
		return "", ctx.Err()
	})
	r, _ := newRLM(t, controller, blockingWorker(&started))
	baseline := runtime.NumGoroutine()
	res, err := r.Run(ctx, smallDoc, "q?")
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.Canceled))
	assert.Equal(t, rlm.StopCancelled, res.Stop)
	assert.True(t, waitForGoroutines(baseline), "goroutines left behind")
}

func TestAsyncBoundedByConcurrency(t *testing.T) {
	var running, most atomic.Int32
	worker := rlmtest.Func(func(ctx context.Context, _ int, _ []rlm.Message) (string, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		return "ok", nil
	})
	controller := rlmtest.Replies([]string{
		code("print(len(wait_all([llm_query_async(str(i)) for i in range(12)])))"),
		"FINAL(done)",
	})
	r, traj := newRLM(t, controller, worker, rlm.WithConcurrency(3))
	_, err := r.Run(testContext(t), smallDoc, "q?")
	require.NoError(t, err)
	assert.Contains(t, codeBlocks(traj)[0].Stdout, "12")
	assert.LessOrEqual(t, most.Load(), int32(3))
}
