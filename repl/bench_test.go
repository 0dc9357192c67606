package repl_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/repl"
)

func noop(context.Context, []any, map[string]any) (any, error) { return "ok", nil }

// BenchmarkHostCallRoundTrip measures one call from Python into Go and back
// (the cost of each sub_call beyond the model itself).
func BenchmarkHostCallRoundTrip(b *testing.B) {
	r := start(b, repl.WithFunc("noop", noop))
	run(b, r, "def loop(n):\n    for _ in range(n):\n        noop('chunk', 'query')")
	b.ResetTimer()
	run(b, r, fmt.Sprintf("loop(%d)", b.N))
}

// BenchmarkHostCall50KBChunk is the seed's sub_call: a 50,000-character
// chunk goes to Go and a short answer comes back.
func BenchmarkHostCall50KBChunk(b *testing.B) {
	r := start(b, repl.WithFunc("sub_call", noop))
	require.NoError(b, r.Set(context.Background(), "context", strings.Repeat("Matt: Roll for initiative. ", 2000)))
	run(b, r, "chunk = context[:50000]\ndef loop(n):\n    for _ in range(n):\n        sub_call(chunk, 'Count all dice rolls in this section')")
	b.SetBytes(50_000)
	b.ResetTimer()
	run(b, r, fmt.Sprintf("loop(%d)", b.N))
}

// BenchmarkExecTrivialCell measures a cell that does almost nothing.
func BenchmarkExecTrivialCell(b *testing.B) {
	r := start(b)
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		if _, err := r.Exec(ctx, "x = 1"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSetDocument5MB measures binding a 5 MB document.
func BenchmarkSetDocument5MB(b *testing.B) {
	doc := strings.Repeat("Matt: Roll for initiative.\nLaura: I rolled a 17.\n", 5<<20/48)
	r := start(b)
	ctx := context.Background()
	b.SetBytes(int64(len(doc)))
	b.ResetTimer()
	for range b.N {
		if err := r.Set(ctx, "context", doc); err != nil {
			b.Fatal(err)
		}
	}
}

// levels are the isolation levels the benchmarks compare, in the order they
// run within each iteration.
var levels = []repl.Isolation{repl.IsolationStrict, repl.IsolationBestEffort, repl.IsolationHookOnly}

// interleaved runs op for every level in turn, b.N times, and reports each
// level's mean time per op in unit.
func interleaved(b *testing.B, unit string, scale time.Duration, op func(i int)) {
	total := make([]time.Duration, len(levels))
	b.ResetTimer()
	for range b.N {
		for i := range levels {
			t0 := time.Now()
			op(i)
			total[i] += time.Since(t0)
		}
	}
	for i, level := range levels {
		b.ReportMetric(float64(total[i])/float64(b.N)/float64(scale), unit+"-"+level.String())
	}
}

// BenchmarkStartByIsolation measures starting a REPL and closing it at each
// isolation level, the levels interleaved: the wall time, and the CPU time
// of the Python processes (which a loaded machine inflates less).
func BenchmarkStartByIsolation(b *testing.B) {
	ctx := context.Background()
	for _, level := range levels { // the interpreter is probed once
		r, err := repl.Start(ctx, repl.WithIsolation(level))
		require.NoError(b, err)
		require.NoError(b, r.Close())
	}
	cpu := make([]time.Duration, len(levels))
	interleaved(b, "ms/start", time.Millisecond, func(i int) {
		before := childrenCPU()
		r, err := repl.Start(ctx, repl.WithIsolation(levels[i]), repl.WithFunc("sub_call", noop))
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Close(); err != nil {
			b.Fatal(err)
		}
		cpu[i] += childrenCPU() - before
	})
	for i, level := range levels {
		b.ReportMetric(float64(cpu[i])/float64(b.N)/float64(time.Millisecond), "cpu-ms/start-"+level.String())
	}
}

// childrenCPU is the user and system time of the reaped child processes.
func childrenCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTrivialCellByIsolation measures a cell that does almost nothing
// at each isolation level, the levels interleaved.
func BenchmarkTrivialCellByIsolation(b *testing.B) {
	ctx := context.Background()
	var rs []*repl.REPL
	for _, level := range levels {
		rs = append(rs, start(b, repl.WithIsolation(level)))
	}
	interleaved(b, "µs/cell", time.Microsecond, func(i int) {
		if _, err := rs[i].Exec(ctx, "x = 1"); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkHostCallByIsolation measures the round trip of a host call at
// each isolation level, in batches of 100 calls, the levels interleaved.
func BenchmarkHostCallByIsolation(b *testing.B) {
	ctx := context.Background()
	var rs []*repl.REPL
	for _, level := range levels {
		r := start(b, repl.WithIsolation(level), repl.WithFunc("noop", noop))
		run(b, r, "def loop(n):\n    for _ in range(n):\n        noop('chunk', 'query')")
		rs = append(rs, r)
	}
	interleaved(b, "µs/call", 100*time.Microsecond, func(i int) {
		if _, err := rs[i].Exec(ctx, "loop(100)"); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkHostCallArgumentMemory measures what a 64 MB argument of a host
// call costs the host, per byte of the message: alloc is every byte the
// host allocated while the call crossed (the frame, decoding, the values
// the function receives), an upper bound of the peak; live is what the
// host holds, after a collection, while the function runs. A string travels
// raw; a list of 100-character strings travels as JSON.
func BenchmarkHostCallArgumentMemory(b *testing.B) {
	const size = 64 << 20
	for _, tc := range []struct{ name, build string }{
		{"string", fmt.Sprintf("arg = 'x' * %d", size)},
		{"list", fmt.Sprintf("arg = ['y' * 100] * %d", size/104)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var before, after, live runtime.MemStats
			var received int
			r := start(b, repl.WithMessageLimit(size+(1<<20)), repl.WithMemoryLimit(4<<30),
				repl.WithFunc("take", func(_ context.Context, args []any, _ map[string]any) (any, error) {
					runtime.ReadMemStats(&after)
					runtime.GC()
					runtime.ReadMemStats(&live)
					switch v := args[0].(type) {
					case string:
						received = len(v)
					case []any:
						received = len(v) * 104
					}
					return nil, nil
				}))
			run(b, r, tc.build)
			b.ResetTimer()
			var allocated, held uint64
			for range b.N {
				runtime.GC()
				runtime.ReadMemStats(&before)
				run(b, r, "take(arg)")
				allocated += after.TotalAlloc - before.TotalAlloc
				held += live.HeapAlloc - before.HeapAlloc
			}
			b.ReportMetric(float64(allocated)/float64(b.N)/float64(received), "alloc-B/msg-B")
			b.ReportMetric(float64(held)/float64(b.N)/float64(received), "live-B/msg-B")
		})
	}
}

// BenchmarkStart measures starting a REPL (interpreter already probed) and
// closing it.
func BenchmarkStart(b *testing.B) {
	ctx := context.Background()
	r, err := repl.Start(ctx)
	require.NoError(b, err)
	require.NoError(b, r.Close())
	b.ResetTimer()
	for range b.N {
		r, err := repl.Start(ctx, repl.WithFunc("sub_call", noop))
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
