package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/go-rlm/rlm/llama/llamatest"
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
	args := testArgs(data, ctrl.URL, worker, "-baseline", "-threads", strconv.Itoa(threads))
	b.ResetTimer()
	for i := range b.N {
		r := evaluate(b, nil, append(args, "-out", filepath.Join(dir, fmt.Sprint("out", i)))...)
		if r.code != 0 {
			b.Fatalf("evaluate: status %d: %s", r.code, r.stderr)
		}
	}
}
