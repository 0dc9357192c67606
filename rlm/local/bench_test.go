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

// replayController is a controller whose model is real and whose replies
// are scripted: the model reads each conversation as a controller would
// (so that its token counts and its reuse of a cached prompt start are
// real), and its reply is replaced by the script's for that turn.
type replayController struct {
	model  *local.LM
	script func(messages []rlm.Message) string
}

func (c replayController) Complete(ctx context.Context, messages []rlm.Message) (rlm.Completion, error) {
	got, err := c.model.Complete(ctx, messages)
	if err != nil {
		return got, err
	}
	got.Text = c.script(messages)
	return got, nil
}

// BenchmarkSessionVsRuns answers ten questions about one 100 KB document,
// as ten separate runs and as one session, with a controller model that
// reads every conversation (a generated 4-layer model, its replies replaced
// by a two-step script) and no worker calls. It reports, per ten questions,
// the REPL starts, the documents sent to Python, the controller's prompt
// tokens and how many of them the model reused from its cache, and the
// wall time per question.
func BenchmarkSessionVsRuns(b *testing.B) {
	m, err := llama.LoadModel(context.Background(), llamatest.Model(b, llamatest.DefaultConfig()))
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	model, err := local.New(m, local.WithSequences(1), local.WithSequenceSize(16384), local.WithMaxTokens(4),
		local.WithThreads(llamatest.BenchThreads(b)))
	if err != nil {
		b.Fatal(err)
	}
	defer model.Close()
	controller := replayController{model: model, script: func(messages []rlm.Message) string {
		if len(messages) == 2 {
			return rlmtest.Code("rolls = context.count('rolls')\nrolls")
		}
		return rlmtest.Code(`answer["content"] = rolls` + "\n" + `answer["ready"] = True`)
	}}
	var doc strings.Builder
	for i := 0; doc.Len() < 100_000; i++ {
		fmt.Fprintf(&doc, "Travis: I attack the goblin number %d.\nMatt: Roll for it.\nTravis: rolls a %d.\n\n", i, i%20+1)
	}
	document := doc.String()
	questions := make([]string, 10)
	for i := range questions {
		questions[i] = fmt.Sprintf("How many rolls are there in part %d?", i+1)
	}
	engine, err := rlm.New(controller, nil, rlm.WithLogger(slog.New(slog.DiscardHandler)), rlm.WithMaxIterations(4))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	report := func(b *testing.B, s rlm.Stats, elapsed time.Duration) {
		n := float64(b.N)
		b.ReportMetric(float64(s.REPLStarts)/n, "repl_starts/op")
		b.ReportMetric(float64(s.DocumentsBound)/n, "docs_bound/op")
		b.ReportMetric(float64(s.Controller.PromptTokens)/n, "prompt_tokens/op")
		b.ReportMetric(float64(s.Controller.CachedPromptTokens)/n, "cached_tokens/op")
		b.ReportMetric(100*float64(s.Controller.CachedPromptTokens)/float64(s.Controller.PromptTokens), "cached_%")
		b.ReportMetric(float64(elapsed.Milliseconds())/n/float64(len(questions)), "ms/question")
	}
	check := func(b *testing.B, q string, res rlm.Result, err error) {
		if err != nil || !res.Final || res.Answer != fmt.Sprint(strings.Count(document, "rolls")) {
			b.Fatalf("%s: %v %+v", q, err, res)
		}
	}
	b.Run("runs", func(b *testing.B) {
		var total rlm.Stats
		start := time.Now()
		for range b.N {
			for _, q := range questions {
				res, err := engine.Run(ctx, document, q)
				check(b, q, res, err)
				total.REPLStarts += res.Stats.REPLStarts
				total.DocumentsBound += res.Stats.DocumentsBound
				total.Controller.PromptTokens += res.Stats.Controller.PromptTokens
				total.Controller.CachedPromptTokens += res.Stats.Controller.CachedPromptTokens
			}
		}
		report(b, total, time.Since(start))
	})
	b.Run("session", func(b *testing.B) {
		var total rlm.Stats
		start := time.Now()
		for range b.N {
			s, err := engine.NewSession(ctx, document)
			if err != nil {
				b.Fatal(err)
			}
			for _, q := range questions {
				res, err := s.Ask(ctx, q)
				check(b, q, res, err)
			}
			st := s.Stats()
			total.REPLStarts += st.REPLStarts
			total.DocumentsBound += st.DocumentsBound
			total.Controller.PromptTokens += st.Controller.PromptTokens
			total.Controller.CachedPromptTokens += st.Controller.CachedPromptTokens
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
		}
		report(b, total, time.Since(start))
	})
}
