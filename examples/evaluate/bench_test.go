package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/llama/llamatest"
	"github.com/go-rlm/rlm/rlm/oolong"
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
		sel, err := selection(b.Context(), []string{data}, cfg, counts, threads)
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
