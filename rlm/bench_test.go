package rlm_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/rlmtest"
)

// benchmarkSubCalls runs, in one code block, b.N rounds of eight sub-calls
// made by call (a Python expression over the list `prompts`), against a
// worker that takes workerDelay per call. It reports the block's time per
// round, which leaves out the REPL's start and the controller.
func benchmarkSubCalls(b *testing.B, worker rlm.LM, call string) {
	requirePythonB(b)
	controller := rlmtest.Replies([]string{
		rlmtest.Code(fmt.Sprintf(
			"prompts = ['chunk %%d' %% i for i in range(8)]\nfor _ in range(%d):\n    answers = %s", b.N, call)),
		"FINAL(done)",
	})
	var cell time.Duration
	r, err := rlm.New(controller, worker, quiet,
		rlm.WithObserver(rlm.Observer{CodeBlock: func(e rlm.CodeBlockEvent) {
			if e.Iteration == 1 {
				cell = e.Duration
			}
		}}))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	res, err := r.Run(context.Background(), "document", "q?")
	if err != nil || res.Answer != "done" {
		b.Fatalf("run: %v %+v", err, res)
	}
	b.ReportMetric(float64(cell.Nanoseconds())/float64(b.N), "ns/round")
}

func requirePythonB(b *testing.B) {
	b.Helper()
	if _, err := lookPython(); err != nil {
		b.Skip("python3 not found: the engine's REPL needs it")
	}
}

// BenchmarkEightSubCalls compares eight sub-calls as one llm_query_batched
// with eight sequential llm_query calls, for a worker that takes 2 ms a
// call.
func BenchmarkEightSubCalls(b *testing.B) {
	const delay = 2 * time.Millisecond
	ok := func(context.Context, int, []rlm.Message) (string, error) { return "ok", nil }
	b.Run("sequential", func(b *testing.B) {
		benchmarkSubCalls(b, rlmtest.Func(ok, rlmtest.WithDelay(delay)), "[llm_query(p) for p in prompts]")
	})
	b.Run("batched", func(b *testing.B) {
		benchmarkSubCalls(b, rlmtest.Func(ok, rlmtest.WithDelay(delay)), "llm_query_batched(prompts)")
	})
	b.Run("overhead_batch_worker", func(b *testing.B) {
		// A batching worker that answers at once: what is left is the
		// engine's and the REPL's own cost per round of eight.
		benchmarkSubCalls(b, rlmtest.Batch(rlmtest.Func(ok)), "llm_query_batched(prompts)")
	})
}
