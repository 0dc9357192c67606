package rlm_test

import (
	"context"
	"fmt"
	"strings"
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

// BenchmarkSessionVsRuns answers ten questions about one 1 MB document as
// ten separate runs and as one session, with a scripted controller (two
// replies a question) and no worker calls: what is left is the engine's own
// cost per question, REPL starts and document bindings included. The local
// package's benchmark of the same name adds a real controller model and
// its prompt cache.
func BenchmarkSessionVsRuns(b *testing.B) {
	requirePythonB(b)
	document := strings.Repeat("Travis: I attack the goblin.\nMatt: Roll for it.\nTravis: rolls a 17.\n\n", 15_000)
	questions := make([]string, 10)
	for i := range questions {
		questions[i] = fmt.Sprintf("How many rolls in part %d?", i+1)
	}
	controller := rlmtest.Func(func(_ context.Context, _ int, messages []rlm.Message) (string, error) {
		if len(messages) == 2 {
			return rlmtest.Code("rolls = context.count('rolls')\nrolls"), nil
		}
		return rlmtest.Code("answer['content'] = rolls\nanswer['ready'] = True"), nil
	})
	engine, err := rlm.New(controller, nil, quiet)
	if err != nil {
		b.Fatal(err)
	}
	want := fmt.Sprint(strings.Count(document, "rolls"))
	check := func(b *testing.B, res rlm.Result, err error) {
		if err != nil || res.Answer != want {
			b.Fatalf("%v %+v", err, res)
		}
	}
	report := func(b *testing.B, starts, bound int) {
		b.ReportMetric(float64(starts)/float64(b.N), "repl_starts/op")
		b.ReportMetric(float64(bound)/float64(b.N), "docs_bound/op")
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*len(questions)), "ms/question")
	}
	ctx := context.Background()
	b.Run("runs", func(b *testing.B) {
		starts, bound := 0, 0
		for range b.N {
			for _, q := range questions {
				res, err := engine.Run(ctx, document, q)
				check(b, res, err)
				starts += res.Stats.REPLStarts
				bound += res.Stats.DocumentsBound
			}
		}
		report(b, starts, bound)
	})
	b.Run("session", func(b *testing.B) {
		starts, bound := 0, 0
		for range b.N {
			s, err := engine.NewSession(ctx, document)
			if err != nil {
				b.Fatal(err)
			}
			for _, q := range questions {
				res, err := s.Ask(ctx, q)
				check(b, res, err)
			}
			starts += s.Stats().REPLStarts
			bound += s.Stats().DocumentsBound
			s.Close()
		}
		report(b, starts, bound)
	})
}
