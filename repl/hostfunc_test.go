package repl_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/repl"
)

// The seed's own loop, verbatim.
const seedLoop = `total_rolls = 0
chunk_size = 50000

for i in range(0, len(prompt), chunk_size):
    chunk = prompt[i:i+chunk_size]
    result = sub_call(chunk, "Count all dice rolls in this section")
    total_rolls += int(result)

print(f"Total rolls: {total_rolls}")
`

func TestSeedLoopCountsDiceRollsInATranscript(t *testing.T) {
	t.Parallel()
	dir := crd3Dir(t)
	episode, err := os.ReadFile(filepath.Join(dir, "campaign1", "C1E001.txt"))
	require.NoError(t, err)
	var tenEpisodes strings.Builder
	for i := 1; i <= 10; i++ {
		text, err := os.ReadFile(filepath.Join(dir, "campaign1", fmt.Sprintf("C1E%03d.txt", i)))
		require.NoError(t, err)
		fmt.Fprintf(&tenEpisodes, "[START OF EPISODE]\n%s\n[END OF EPISODE]\n\n", text)
	}

	for name, doc := range map[string]string{"C1E001": string(episode), "C1E001-C1E010": tenEpisodes.String()} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int64
			count := countWord("roll")
			r := start(t, repl.WithFunc("sub_call", func(ctx context.Context, args []any, kwargs map[string]any) (any, error) {
				calls.Add(1)
				assert.Equal(t, "Count all dice rolls in this section", args[1])
				return count(ctx, args, kwargs)
			}))
			require.NoError(t, r.Set(testContext(t), "context", doc))
			require.NoError(t, r.Set(testContext(t), "prompt", doc))

			res := run(t, r, seedLoop)

			want := strings.Count(strings.ToLower(doc), "roll")
			require.Positive(t, want)
			assert.Equal(t, fmt.Sprintf("Total rolls: %d\n", want), res.Stdout)
			chars := len([]rune(doc))
			assert.Equal(t, int64((chars+49_999)/50_000), calls.Load(), "one sub_call per 50,000-character chunk")
			assert.Equal(t, []string{"chunk", "chunk_size", "i", "result", "total_rolls"}, res.Changed)
		})
	}
}

func TestHostFunctionArguments(t *testing.T) {
	t.Parallel()
	var gotArgs []any
	var gotKwargs map[string]any
	r := start(t, repl.WithFunc("probe", func(_ context.Context, args []any, kwargs map[string]any) (any, error) {
		gotArgs, gotKwargs = args, kwargs
		return map[string]any{"n": len(args), "echo": args, "ratio": 0.5, "none": nil}, nil
	}))
	res := run(t, r, `out = probe("s", 3, 2.0, True, None, [1, "x"], {"k": (1, 2)}, depth=2, mode="fast")
print(out["n"], out["echo"][2], type(out["echo"][2]).__name__, out["ratio"], out["none"])`)
	assert.Equal(t, "7 2.0 float 0.5 None\n", res.Stdout)
	assert.Equal(t, []any{"s", int64(3), 2.0, true, nil, []any{int64(1), "x"}, map[string]any{"k": []any{int64(1), int64(2)}}}, gotArgs)
	assert.Equal(t, map[string]any{"depth": int64(2), "mode": "fast"}, gotKwargs)

	run(t, r, "probe()")
	assert.Empty(t, gotArgs)
	assert.Nil(t, gotKwargs, "no keyword arguments: nil map")
}

// Long strings (document chunks) travel outside the JSON header; whatever
// the path, Go gets exactly the text Python passed.
func TestLongStringArgumentsArriveIntact(t *testing.T) {
	t.Parallel()
	var got []any
	record := func(_ context.Context, args []any, kwargs map[string]any) (any, error) {
		got = append(args, kwargs["doc"])
		return len(got), nil
	}
	var items []any
	var mu sync.Mutex
	r := start(t, repl.WithFunc("record", record),
		repl.WithBatchFunc("batch", 4, func(_ context.Context, item any) (any, error) {
			mu.Lock()
			defer mu.Unlock()
			items = append(items, item)
			return len(item.(string)), nil
		}))
	run(t, r, `long = 'Travis: I roll a natural 20! Ça marche. ' * 200
res = record(long, 'short', long[:5000], doc='\ud800' + long)
sizes = batch([long, 'x', long.upper()])
print(res, sizes)`)
	long := strings.Repeat("Travis: I roll a natural 20! Ça marche. ", 200)
	want := []any{long, "short", string([]rune(long)[:5000]), "\ufffd" + long}
	require.Len(t, got, len(want))
	for i := range want {
		assert.True(t, want[i] == got[i], "argument %d differs", i) // not Equal: no 8 KB diffs
	}
	slices.SortFunc(items, func(a, b any) int { return len(a.(string)) - len(b.(string)) })
	require.Len(t, items, 3)
	assert.True(t, items[0] == "x" && (items[1] == long && items[2] == strings.ToUpper(long) ||
		items[2] == long && items[1] == strings.ToUpper(long)), "batch items differ")
}

func TestHostFunctionErrorsRaiseInPython(t *testing.T) {
	t.Parallel()
	r := start(t,
		repl.WithFunc("llm_query", func(_ context.Context, args []any, _ map[string]any) (any, error) {
			return nil, fmt.Errorf("worker unavailable for %q", args[0])
		}),
		repl.WithFunc("buggy", func(context.Context, []any, map[string]any) (any, error) {
			var m map[string]int
			m["boom"]++ // panics
			return nil, nil
		}),
		repl.WithFunc("weird", func(context.Context, []any, map[string]any) (any, error) {
			return make(chan int), nil
		}))

	res := run(t, r, "try:\n    llm_query('hi')\nexcept RuntimeError as e:\n    print('caught:', e)")
	assert.Equal(t, "caught: worker unavailable for \"hi\"\n", res.Stdout)

	res, err := r.Exec(testContext(t), "llm_query('hi')")
	require.NoError(t, err)
	require.NotNil(t, res.Exception)
	assert.Equal(t, "HostError", res.Exception.Type)
	assert.Equal(t, `worker unavailable for "hi"`, res.Exception.Message)
	assert.Contains(t, res.Exception.Traceback, "llm_query('hi')")

	res, err = r.Exec(testContext(t), "buggy()")
	require.NoError(t, err)
	require.NotNil(t, res.Exception)
	assert.Contains(t, res.Exception.Message, "panicked")

	res, err = r.Exec(testContext(t), "weird()")
	require.NoError(t, err)
	require.NotNil(t, res.Exception)
	assert.Contains(t, res.Exception.Message, "chan int")

	run(t, r, "print('still fine')")
}

// Batched calls: every item must be in flight at once before any may
// finish (a barrier), and they finish in reverse order; Python still gets
// the results in the order of the items.
func TestBatchedCallsRunConcurrentlyAndReturnInOrder(t *testing.T) {
	t.Parallel()
	const n = 8
	var (
		arrived   atomic.Int32
		allIn     = make(chan struct{})
		finished  [n + 1]chan struct{}
		mu        sync.Mutex
		starts    []time.Time
		ends      []time.Time
		maxFlight atomic.Int32
		inFlight  atomic.Int32
	)
	for i := range finished {
		finished[i] = make(chan struct{})
	}
	close(finished[n])
	r := start(t, repl.WithBatchFunc("llm_query_batched", n, func(ctx context.Context, item any) (any, error) {
		i := int(item.(int64))
		mu.Lock()
		starts = append(starts, time.Now())
		mu.Unlock()
		for f := inFlight.Add(1); ; {
			if m := maxFlight.Load(); f <= m || maxFlight.CompareAndSwap(m, f) {
				break
			}
		}
		defer inFlight.Add(-1)
		if arrived.Add(1) == n {
			close(allIn)
		}
		for _, wait := range []chan struct{}{allIn, finished[i+1]} {
			select {
			case <-wait:
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Minute):
				return nil, errors.New("the items did not run concurrently")
			}
		}
		mu.Lock()
		ends = append(ends, time.Now())
		mu.Unlock()
		close(finished[i])
		return fmt.Sprintf("r%d", i*i), nil
	}))

	res := run(t, r, "print(llm_query_batched(list(range(8))))")
	assert.Equal(t, "['r0', 'r1', 'r4', 'r9', 'r16', 'r25', 'r36', 'r49']\n", res.Stdout)
	assert.Equal(t, int32(n), maxFlight.Load())
	lastStart, firstEnd := starts[0], ends[0]
	for _, s := range starts {
		if s.After(lastStart) {
			lastStart = s
		}
	}
	for _, e := range ends {
		if e.Before(firstEnd) {
			firstEnd = e
		}
	}
	assert.True(t, lastStart.Before(firstEnd), "every item started before any finished")
	t.Logf("batch of %d: all started within %v, first finished %v after the last start",
		n, lastStart.Sub(starts[0]), firstEnd.Sub(lastStart))
}

func TestBatchFailureNamesTheItem(t *testing.T) {
	t.Parallel()
	r := start(t, repl.WithBatchFunc("llm_query_batched", 1, func(_ context.Context, item any) (any, error) {
		if item == "bad" {
			return nil, errors.New("cannot answer")
		}
		return item, nil
	}))
	res, err := r.Exec(testContext(t), "llm_query_batched(['a', 'b', 'bad', 'c'])")
	require.NoError(t, err)
	require.NotNil(t, res.Exception)
	assert.Equal(t, "HostError", res.Exception.Type)
	assert.Equal(t, "item 2: cannot answer", res.Exception.Message)

	res, err = r.Exec(testContext(t), "llm_query_batched('not a list')")
	require.NoError(t, err)
	require.NotNil(t, res.Exception)
	assert.Equal(t, "TypeError", res.Exception.Type)
	res = run(t, r, "print(llm_query_batched(('x', 'y')), llm_query_batched([]))")
	assert.Equal(t, "['x', 'y'] []\n", res.Stdout)
}

// Models parallelize with threads too; their host calls are served
// concurrently.
func TestHostCallsFromPythonThreads(t *testing.T) {
	t.Parallel()
	const workers = 4
	var arrived atomic.Int32
	allIn := make(chan struct{})
	r := start(t, repl.WithFunc("llm_query", func(ctx context.Context, args []any, _ map[string]any) (any, error) {
		if arrived.Add(1) == workers {
			close(allIn)
		}
		select {
		case <-allIn:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return strings.ToUpper(args[0].(string)), nil
	}))
	res := run(t, r, `from concurrent.futures import ThreadPoolExecutor
with ThreadPoolExecutor(max_workers=4) as pool:
    print(list(pool.map(llm_query, ['a', 'b', 'c', 'd'])))`)
	assert.Equal(t, "['A', 'B', 'C', 'D']\n", res.Stdout)
}

func TestCancelStopsACellWaitingOnAHostFunction(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	var sawCancel atomic.Bool
	// The grace is only a bound: a cell that stops at the interrupt does not wait for it.
	r := start(t, repl.WithInterruptGrace(time.Minute), repl.WithFunc("slow", func(ctx context.Context, _ []any, _ map[string]any) (any, error) {
		close(entered)
		<-ctx.Done()
		sawCancel.Store(true)
		return nil, ctx.Err()
	}))
	run(t, r, "kept = 'still here'")

	ctx, cancel := context.WithCancel(testContext(t))
	go func() {
		<-entered
		cancel()
	}()
	res, err := r.Exec(ctx, "slow()\nprint('not reached')")
	require.ErrorIs(t, err, context.Canceled)
	assert.True(t, sawCancel.Load(), "the host function saw its context cancelled")
	require.NotNil(t, res.Exception)
	assert.Equal(t, "KeyboardInterrupt", res.Exception.Type)
	assert.Empty(t, res.Stdout)
	assert.False(t, res.Restarted)

	res = run(t, r, "print(kept)")
	assert.Equal(t, "still here\n", res.Stdout)
}

func TestCancelStopsABusyCell(t *testing.T) {
	t.Parallel()
	r := start(t, repl.WithInterruptGrace(time.Minute))
	ctx, cancel := context.WithCancel(testContext(t))
	go func() {
		// Get runs beside the cell: cancel once the loop is seen running.
		for {
			if n, err := r.Get(ctx, "n"); err == nil && n.(int64) > 0 {
				cancel()
				return
			}
			if ctx.Err() != nil {
				return
			}
		}
	}()
	res, err := r.Exec(ctx, "n = 0\nwhile True:\n    n += 1")
	require.ErrorIs(t, err, context.Canceled)
	require.NotNil(t, res.Exception)
	assert.Equal(t, "KeyboardInterrupt", res.Exception.Type)
	assert.Contains(t, res.Exception.Traceback, "in <module>", "interrupted inside the loop of the cell")
	assert.False(t, res.Restarted, "a pure-Python loop stops at the interrupt")
	res = run(t, r, "print(n > 0)")
	assert.Equal(t, "True\n", res.Stdout)

	_, err = r.Exec(ctx, "print('never')")
	assert.ErrorIs(t, err, context.Canceled, "a done context runs nothing")
}

// A host function may read and bind variables of the cell that called it.
func TestGetAndSetFromAHostFunction(t *testing.T) {
	t.Parallel()
	var r *repl.REPL
	r = start(t,
		repl.WithFunc("FINAL_VAR", func(ctx context.Context, args []any, _ map[string]any) (any, error) {
			v, err := r.Get(ctx, args[0].(string))
			if err != nil {
				return nil, err
			}
			return nil, r.Set(ctx, "final_answer", v)
		}),
		repl.WithFunc("nested_exec", func(ctx context.Context, _ []any, _ map[string]any) (any, error) {
			_, err := r.Exec(ctx, "1")
			return nil, err
		}))
	res := run(t, r, "answer = [1, 2]\nFINAL_VAR('answer')\nprint(final_answer)")
	assert.Equal(t, "[1, 2]\n", res.Stdout)

	res, err := r.Exec(testContext(t), "FINAL_VAR('missing')")
	require.NoError(t, err)
	require.NotNil(t, res.Exception)
	assert.Contains(t, res.Exception.Message, "not defined")

	res, err = r.Exec(testContext(t), "nested_exec()")
	require.NoError(t, err)
	require.NotNil(t, res.Exception, "an Exec from inside a cell fails instead of deadlocking")
	assert.Equal(t, "HostError", res.Exception.Type)
}

// A list of many tiny items would cost the host far more than its message
// as Go values: the call fails with a clear error before the memory is
// spent, and the process goes on.
func TestHostCallTooLargeToDecode(t *testing.T) {
	t.Parallel()
	called := false
	r := start(t, repl.WithFunc("take", func(context.Context, []any, map[string]any) (any, error) {
		called = true
		return nil, nil
	}))
	res, err := r.Exec(testContext(t), "take(['a'] * 4_000_000)") // 20 MB of JSON
	require.NoError(t, err)
	require.NotNil(t, res.Exception)
	assert.Equal(t, "HostError", res.Exception.Type)
	assert.Contains(t, res.Exception.Message, "too large")
	assert.False(t, res.Restarted)
	assert.False(t, called)
	res = run(t, r, "take(['a'] * 1000)\nprint('ok')")
	assert.Equal(t, "ok\n", res.Stdout)
	assert.True(t, called)

	run(t, r, "huge = [0.5] * 3_000_000")
	_, err = r.Get(testContext(t), "huge")
	assert.ErrorContains(t, err, "too large")
}
