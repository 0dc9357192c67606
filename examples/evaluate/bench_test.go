package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

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
