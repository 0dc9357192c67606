package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/llama/llamatest"
	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/oolong"
	"github.com/go-rlm/rlm/rlm/rlmtest"
)

// BenchmarkEvaluateFiveExamples measures the wall time of a whole
// evaluation of five examples built from the real transcripts (windows of
// 165K to 370K characters), with the baseline: the command's start, the
// data, the generated worker (llamatest's default model) answering two
// sub-calls an example and the baseline's 1024-token prompt, the scripted
// controller on loopback, the journal and the reports. Threads are
// RLM_BENCH_THREADS, else every CPU.
func BenchmarkEvaluateFiveExamples(b *testing.B) {
	dir := b.TempDir()
	data := writeSplit(b, dir, transcriptExamples(b, 5))
	ctrl := newScriptedController(b)
	worker := workerModel(b)
	threads := llamatest.BenchThreads(b)
	args := testArgs(data, ctrl.URL, worker, "-baseline", "-baseline-fit", "truncate", "-threads", strconv.Itoa(threads))
	b.ResetTimer()
	for i := range b.N {
		r := evaluate(b, nil, append(args, "-out", filepath.Join(dir, fmt.Sprint("out", i)))...)
		if r.code != 0 {
			b.Fatalf("evaluate: status %d: %s", r.code, r.stderr)
		}
	}
}

// BenchmarkSelection measures the selection of a split built from the real
// transcripts (windows of 1, 2, 3 and 5 episodes, 6 questions each, 2.2 MB
// of distinct text): "count" tokenizes each window once (a fresh token
// counts file each time), "cached" reads the counts back from the file, as
// a resumed run does. Asking the tokenizer once per row instead would
// multiply "count" by the questions per window. The tokenizer is the
// benchmark model's ($RLM_BENCH_MODEL; the generated one has a token per
// byte, a real BPE vocabulary is several times slower); threads are
// RLM_BENCH_THREADS, else every CPU.
func BenchmarkSelection(b *testing.B) {
	dir, err := oolong.TranscriptDir()
	if err != nil {
		b.Skipf("no transcripts: %v", err)
	}
	c, err := oolong.LoadCampaign(dir, 1)
	require.NoError(b, err)
	var rows []oolong.Example
	distinct := 0
	for i, n := range []int{1, 2, 3, 5} {
		w, err := c.Window(c.Episodes()[10*i : 10*i+n]...)
		require.NoError(b, err)
		distinct += len(w.Text)
		for q := range 6 {
			rows = append(rows, w.Example(fmt.Sprintf("Question %d?", q), "1", oolong.QuestionTypes[q%4]))
		}
	}
	tmp := b.TempDir()
	data := writeSplit(b, tmp, rows)
	model, err := llama.LoadModel(context.Background(), llamatest.BenchModel(b), llama.WithVocabOnly())
	require.NoError(b, err)
	defer model.Close()
	count := func(text string) (int, error) {
		tokens, err := model.Tokenize(text, true, true)
		return len(tokens), err
	}
	cfg := testConfig()
	cfg.Data, cfg.QuestionTypes, cfg.Shard, cfg.ContextTokens = data, nil, Shard{0, 1}, oolong.TokenRange{}
	threads := llamatest.BenchThreads(b)
	selectOnce := func(path string) {
		counts, err := openTokenCounts(path, count)
		require.NoError(b, err)
		sel, _, err := selection(b.Context(), []string{data}, cfg, counts, threads)
		require.NoError(b, err)
		require.Len(b, sel, len(rows))
		require.NoError(b, counts.Close())
	}
	b.Run("count", func(b *testing.B) {
		b.SetBytes(int64(distinct))
		for i := range b.N {
			selectOnce(filepath.Join(tmp, fmt.Sprint("counts", i)))
		}
	})
	b.Run("cached", func(b *testing.B) {
		path := filepath.Join(tmp, "cached")
		selectOnce(path)
		b.SetBytes(int64(distinct))
		b.ResetTimer()
		for range b.N {
			selectOnce(path)
		}
	})
}

// sharedWorkSplit is the split of the sharing benchmarks: 3 context windows
// of real transcript (the first 6,000 characters of episodes 5, 6 and 7 of
// campaign 1: instructions, player map and transcript) asked 4 questions
// each.
func sharedWorkSplit(b *testing.B) []oolong.Example {
	dir, err := oolong.TranscriptDir()
	if err != nil {
		b.Skipf("no transcripts: %v", err)
	}
	c, err := oolong.LoadCampaign(dir, 1)
	require.NoError(b, err)
	var rows []oolong.Example
	for _, ep := range []int{5, 6, 7} {
		w, err := c.Window(ep)
		require.NoError(b, err)
		w.Text = string([]rune(w.Text)[:6000])
		for q := range 4 {
			rows = append(rows, w.Example(fmt.Sprintf("How many rolls are there in this episode? (%d)", q), "7", oolong.QuestionTypes[q%2]))
		}
	}
	return rows
}

// everyChunkReply is a controller that, for each question, asks every
// chunk of 1,500 characters the same question and adds up the boxed
// numbers, then answers.
func everyChunkReply(messages []rlm.Message) string {
	for _, m := range messages {
		if m.Role == rlm.RoleAssistant {
			return rlmtest.Code(`answer["content"] = "\\boxed{%d}" % total; answer["ready"] = True`)
		}
	}
	return rlmtest.Code(`import re
chunks = [context[i:i + 1500] for i in range(0, len(context), 1500)]
answers = sub_call(chunks, "How many dice rolls are in this text?")
total = sum(int(re.search(r"[0-9]+", a).group(0)) for a in answers)
print(total)`)
}

// BenchmarkSharedWork measures the work the questions of a context window
// share: the sharing split (3 windows, 4 questions each) evaluated with
// -share (one REPL per window, the worker's answers memoized) and with
// -share=false (every question alone), by a scripted controller that asks
// every chunk the same question for each question, and the generated
// worker. It reports the worker's prompt tokens, the sub-calls the memo
// answered and the REPLs started; ns/op is the wall time of the whole
// command.
func BenchmarkSharedWork(b *testing.B) {
	dir := b.TempDir()
	data := writeSplit(b, dir, sharedWorkSplit(b))
	ctrl := serveController(b, everyChunkReply, func(*http.Request, []rlm.Message) bool { return false })
	worker := workerModel(b)
	threads := llamatest.BenchThreads(b)
	for _, share := range []bool{true, false} {
		name := map[bool]string{true: "shared", false: "alone"}[share]
		b.Run(name, func(b *testing.B) {
			var s Summary
			for i := range b.N {
				out := filepath.Join(b.TempDir(), fmt.Sprint(name, i))
				args := testArgs(data, ctrl.URL, worker, "-worker-ctx", "2048", "-threads", strconv.Itoa(threads),
					"-share="+strconv.FormatBool(share), "-out", out)
				r := evaluate(b, nil, args...)
				if r.code != 0 {
					b.Fatalf("evaluate: status %d: %s", r.code, r.stderr)
				}
				s = summaryOf(b, out)
			}
			b.ReportMetric(float64(s.WorkerPromptTokens), "worker-prompt-tokens/op")
			b.ReportMetric(float64(s.SubCallCacheHits), "memo-hits/op")
			b.ReportMetric(s.MeanSubCalls*float64(s.Examples), "sub-calls/op")
		})
	}
}

// BenchmarkControllerPrefix measures how much of the controller's prompts
// its KV cache serves when the evaluation runs the controller in process:
// the sharing split evaluated with the generated model as controller (its
// replies are noise, so each question takes one reply and the request for
// an answer) and as worker. The system prompt and the start of the first
// message are the same for every question, and the controller keeps them
// from one call to the next. It reports the share of prompt tokens served
// from the cache.
func BenchmarkControllerPrefix(b *testing.B) {
	dir := b.TempDir()
	data := writeSplit(b, dir, sharedWorkSplit(b))
	cfg := llamatest.DefaultConfig()
	cfg.Context = 32768
	model := llamatest.Model(b, cfg)
	threads := llamatest.BenchThreads(b)
	var s Summary
	for i := range b.N {
		out := filepath.Join(dir, fmt.Sprint("out", i))
		r := evaluate(b, nil, "-data", data, "-controller", model, "-worker", model, "-iterations", "1",
			"-controller-ctx", "20000", "-controller-max-tokens", "8", "-worker-ctx", "4096", "-worker-max-tokens", "12",
			"-max-context-tokens", "0", "-threads", strconv.Itoa(threads), "-out", out)
		if r.code != 0 {
			b.Fatalf("evaluate: status %d: %s", r.code, r.stderr)
		}
		s = summaryOf(b, out)
	}
	b.ReportMetric(100*s.ControllerCachedShare, "%cached")
	b.ReportMetric(float64(s.ControllerPromptTokens), "controller-prompt-tokens/op")
}

// BenchmarkSlurmArray measures an evaluation of 24 examples built from the
// real transcripts (the generated worker, the scripted controller, no
// baseline) on the local one-node SLURM cluster, as a 4-task array with one
// CPU a task, from submit.sh (its build of the command included) to the
// merged reports; and, interleaved with it, the same examples in one
// process with RLM_BENCH_THREADS threads (default: every CPU). It reports
// both wall times, the part of the first spent in submit.sh, and the
// cluster's start-up.
func BenchmarkSlurmArray(b *testing.B) {
	root := b.TempDir()
	c := startLocalCluster(b, root)
	data := writeSplit(b, root, clusterExamples(b, 24))
	ctrl := newScriptedController(b)
	args := testArgs(data, ctrl.URL, workerModel(b))
	threads := strconv.Itoa(llamatest.BenchThreads(b))
	var array, submit, single time.Duration
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		s := c.submit(b, []string{"SHARDS=4", "CPUS_PER_TASK=1", "MEM_PER_TASK=1G", goFlagsEnv()},
			filepath.Join(root, fmt.Sprint("array", i)), args...)
		submit += time.Since(start)
		c.waitEnded(b, s, 10*time.Minute)
		array += time.Since(start)
		if merge := c.jobs(b, s.merge)[0]; merge.state != "COMPLETED" {
			b.Fatalf("the merge ended %s", merge.state)
		}

		start = time.Now()
		r := evaluate(b, nil, append(args, "-threads", threads, "-out", filepath.Join(root, fmt.Sprint("single", i)))...)
		single += time.Since(start)
		if r.code != 0 {
			b.Fatalf("evaluate: status %d: %s", r.code, r.stderr)
		}
	}
	b.ReportMetric(array.Seconds()/float64(b.N), "array-s/op")
	b.ReportMetric(submit.Seconds()/float64(b.N), "submit-s/op")
	b.ReportMetric(single.Seconds()/float64(b.N), "one-process-s/op")
	b.ReportMetric(c.startup.Seconds(), "startup-s")
}

// laptopChunkCode is what the scripted controller of BenchmarkLaptopExample
// runs: what an RLM must do for a counting question, reading the whole
// window in chunks that fit the laptop worker's 8192-token context (24,000
// characters of transcript are about 6,200 of Qwen's tokens) and adding up
// the answers.
const laptopChunkCode = `size = 24000
chunks = [context[i:i + size] for i in range(0, len(context), size)]
answers = sub_call(chunks, "How many dice rolls are in this text?")
total = sum(int(a.strip("\\boxed{}")) for a in answers)
print(len(chunks), total)`

// BenchmarkLaptopExample measures one OOLONG-real example (the first
// episode of campaign 1, 47K tokens of Qwen's tokenizer) as make run's
// laptop preset runs it (-worker-ctx 8192, -worker-parallel 4, every CPU
// unless RLM_BENCH_THREADS) on the worker $RLM_BENCH_MODEL (an absolute
// path: the benchmark runs in its package's directory): make
// peer-shapes writes one of the laptop worker's shape,
// .work/qwen/qwen2.5-0.5b-f16.gguf. Reading the window is the worker's
// work, and that is measured; the controller is scripted (on loopback,
// laptopChunkCode), because a controller with random weights never stops
// writing, so its share is to be added from its prefill and decode rates.
// The worker's answers follow the tests' grammar (a boxed number), as a
// real worker's short answers would. Skipped without RLM_BENCH_MODEL: the
// generated default worker has a token per byte and an 8192-token context
// would not hold a chunk.
func BenchmarkLaptopExample(b *testing.B) {
	worker := os.Getenv(llamatest.EnvBenchModel)
	if worker == "" {
		b.Skipf("set %s to a GGUF file of the laptop worker's shape (make peer-shapes writes one)", llamatest.EnvBenchModel)
	}
	dir := b.TempDir()
	data := writeSplit(b, dir, transcriptExamples(b, 1))
	ctrl := serveController(b, func(messages []rlm.Message) string {
		return replyStep(messages, rlmtest.Code(laptopChunkCode), "FINAL_VAR(total)")
	}, func(*http.Request, []rlm.Message) bool { return false })
	threads := llamatest.BenchThreads(b)
	b.ResetTimer()
	for i := range b.N {
		out := filepath.Join(dir, fmt.Sprint("out", i))
		cmd := exec.CommandContext(b.Context(), binary,
			"-data", data, "-config", "dnd", "-split", "test", "-out", out,
			"-controller-url", ctrl.URL+"/v1", "-worker", worker, "-worker-grammar", workerGrammar,
			"-worker-ctx", "8192", "-worker-parallel", "4", "-iterations", "12",
			"-threads", strconv.Itoa(threads))
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("evaluate: %v\n%s", err, msg)
		}
		raw, err := os.ReadFile(filepath.Join(out, summaryJSONName))
		require.NoError(b, err)
		var s Summary
		require.NoError(b, json.Unmarshal(raw, &s))
		require.Equal(b, 1, s.Examples)
		require.Zero(b, s.Failed)
		b.ReportMetric(s.SecondsPerExample, "s/example")
		b.ReportMetric(float64(s.WorkerPromptTokens), "worker-prompt-tokens")
		b.ReportMetric(float64(s.WorkerPromptTokens)/s.SecondsPerExample, "worker-tokens/s")
	}
}
