package local_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/llama/llamatest"
	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/local"
	"github.com/go-rlm/rlm/rlm/rlmtest"
)

// BenchmarkEightSubCalls compares eight worker calls made as one
// llm_query_batched (one batched decode of 8 sequences) with eight
// sequential llm_query calls, through the whole engine: the REPL, the host
// functions and the local worker. Two shapes of call: a 256-byte chunk
// answered in 32 tokens (reading dominates: on a CPU, batching saves only
// the generation steps), and a 64-byte chunk answered in 64 tokens
// (generation dominates). The worker is RLM_BENCH_MODEL or a generated
// 8-layer F16 model (n_embd 512); threads are RLM_BENCH_THREADS or every
// CPU. The metric is the code block's time per round of eight.
func BenchmarkEightSubCalls(b *testing.B) {
	path := llamatest.BenchModel(b)
	threads := llamatest.BenchThreads(b)
	m, err := llama.LoadModel(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	for _, shape := range []struct{ chunk, answer int }{{256, 32}, {64, 64}} {
		worker, err := local.New(m, local.WithSequences(8), local.WithSequenceSize(1024),
			local.WithMaxTokens(shape.answer), local.WithThreads(threads))
		if err != nil {
			b.Fatal(err)
		}
		defer worker.Close()
		chunk := strings.Repeat("Travis rolls a 14. ", 14)[:shape.chunk]
		for _, call := range []struct{ name, expr string }{
			{"sequential", "[llm_query(p) for p in prompts]"},
			{"batched", "llm_query_batched(prompts)"},
		} {
			b.Run(fmt.Sprintf("chunk%d_answer%d/%s", shape.chunk, shape.answer, call.name), func(b *testing.B) {
				benchmarkRound(b, worker, chunk, call.expr)
			})
		}
	}
}

// benchmarkRound runs b.N rounds of eight worker calls made by expr (a
// Python expression over the list prompts) in one code block.
func benchmarkRound(b *testing.B, worker rlm.LM, chunk, expr string) {
	// Every round asks new prompts (the round number comes first), so that
	// no prompt's start is already in the worker's cache.
	code := fmt.Sprintf("for r in range(%d):\n    prompts = ['%%d.%%d %s Question: how many rolls?' %% (r, i) for i in range(8)]\n    answers = %s",
		b.N, chunk, expr)
	controller := rlmtest.Replies([]string{rlmtest.Code(code), "FINAL(done)"})
	var cell time.Duration
	engine, err := rlm.New(controller, worker, rlm.WithLogger(slog.New(slog.DiscardHandler)),
		rlm.WithObserver(rlm.Observer{CodeBlock: func(e rlm.CodeBlockEvent) {
			if e.Iteration == 1 {
				cell = e.Duration
			}
		}}))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	res, err := engine.Run(context.Background(), "document", "q?")
	if err != nil || res.Stats.SubCalls != 8*b.N || res.Stats.SubCallsFailed != 0 {
		b.Fatalf("run: %v, %d sub-calls (%d failed)", err, res.Stats.SubCalls, res.Stats.SubCallsFailed)
	}
	b.ReportMetric(cell.Seconds()/float64(b.N), "s/round")
}
