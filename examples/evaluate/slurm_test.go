package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/examples/internal/cmdtest"
	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/oolong"
)

// TestSlurmArray submits an evaluation of 12 examples built from the real
// transcripts to a one-node SLURM cluster through slurm/submit.sh, as a
// 4-task array and a merge, on the generated worker and the scripted
// controller. Once every task is in the middle of its run (one example in
// its journal, the next one's first controller request held), it cancels
// task 1 with scancel and requeues it with scontrol, and gives task 2 the
// time-limit warning (USR1, as --signal sends it), on which shard.sbatch
// stops evaluate and requeues the task itself. Then it checks that:
//
//   - every example is in exactly one shard's journal, and only the two
//     examples in flight ran twice: the requeued tasks resumed from their
//     journals;
//   - the merged table equals that of a run of the same examples in one
//     process: indices, ids, answers, scores;
//   - sacct shows every task completed (the cancellation and the requeue
//     on the way), and the merge starting after all of them ended;
//   - the jobs asked for two GPUs a task, and logged where README says.
//
// The checks hold whatever rule assigns examples to shards.
func TestSlurmArray(t *testing.T) {
	examples := clusterExamples(t, 12)
	root := t.TempDir()
	c := startLocalCluster(t, root)
	data := writeSplit(t, root, examples)
	out := filepath.Join(root, "array")
	ctrl := newGatedController(t, examples, out)
	args := testArgs(data, ctrl.URL, workerModel(t))

	single := filepath.Join(root, "single")
	r := evaluate(t, nil, append(args, "-out", single)...)
	require.Equal(t, 0, r.code, r.stderr)

	ctrl.closeGate()
	s := c.submit(t, []string{"SHARDS=4", "CPUS_PER_TASK=1", "MEM_PER_TASK=1G", goFlagsEnv()}, out, args...)
	task := func(k int) string { return fmt.Sprintf("%s_%d", s.array, k) }
	held := ctrl.waitHolding(t, 4, 5*time.Minute)
	for k, j := range c.jobs(t, s.array) {
		require.Equal(t, "RUNNING", j.state, "task %d", k)
		assert.Equal(t, "gres:gpu:2", j.fields["TresPerNode"], "task %d asks for two GPUs", k)
	}

	// Task 1: scancel, then scontrol requeue once it has ended.
	inFlight := map[int]int{1: held[shardDir(out, 1, 4)], 2: held[shardDir(out, 2, 4)]}
	cancelled := c.jobs(t, task(1))[0].id
	c.run(t, nil, "scancel", task(1))
	waitFor(t, time.Minute, "sacct's record of the cancelled task", func() bool {
		return slices.ContainsFunc(c.sacct(t), func(r sacctRecord) bool { return r.id == cancelled && r.state == "CANCELLED" })
	})
	waitFor(t, time.Minute, "requeue of the cancelled task", func() bool {
		_, err := c.try(nil, "scontrol", "requeue", task(1))
		return err == nil
	})
	// Task 2: the warning before the time limit, to the batch shell only.
	c.run(t, nil, "scancel", "--batch", "--signal=USR1", task(2))
	waitFor(t, time.Minute, "requeue of the warned task", func() bool { return c.jobs(t, task(2))[0].restarts == 1 })
	ctrl.open()
	c.waitEnded(t, s, 5*time.Minute)

	tasks := c.jobs(t, s.array)
	require.Len(t, tasks, 4)
	for k, j := range tasks {
		assert.Equal(t, "COMPLETED", j.state, "task %d", k)
		assert.Equal(t, "0:0", j.exitCode, "task %d", k)
		assert.Equal(t, map[int]int{1: 1, 2: 1}[k], j.restarts, "task %d", k)
	}
	merge := c.jobs(t, s.merge)[0]
	require.Equal(t, "COMPLETED", merge.state, "the merge: %s", readLog(t, filepath.Join(out, "logs", "rlm-evaluate-merge-"+s.merge+".out")))

	// No example lost, none recorded twice, none redone but those in flight.
	recorded := map[string]int{}
	for k := range 4 {
		for _, id := range journalIDs(t, filepath.Join(shardDir(out, k, 4), journalName)) {
			recorded[id]++
		}
	}
	starts := ctrl.startCounts()
	redone := 0
	for n, e := range examples {
		assert.Equal(t, 1, recorded[e.ID], "example %d is in one journal, once", n)
		want := 1
		if n == inFlight[1] || n == inFlight[2] {
			want = 2
		}
		assert.Equal(t, want, starts[n], "runs of example %d", n)
		redone += max(0, starts[n]-want)
	}
	assert.Len(t, recorded, len(examples))
	t.Logf("examples redone beyond the one in flight of each requeued task: %d", redone)

	// The merged table is the single process's.
	want, got := arrowRows(t, filepath.Join(single, tableName)), arrowRows(t, filepath.Join(out, "merged", tableName))
	require.Len(t, got, len(want))
	for i := range want {
		for _, column := range []string{"index", "id", "gold", "answer", "score", "stop", "sub_calls"} {
			assert.Equal(t, want[i][column], got[i][column], "row %d, %s", i, column)
		}
	}

	// sacct: each task's last record says it completed, the cancelled one
	// was cancelled first, and the merge started after the last task ended.
	records := c.sacct(t)
	taskOf := map[string]int{}
	for k, j := range tasks {
		taskOf[j.id] = k
	}
	var history [4][]string
	var lastEnd time.Time
	var mergeRecord *sacctRecord
	for i, rec := range records {
		if k, ok := taskOf[rec.id]; ok {
			history[k] = append(history[k], rec.state)
			if rec.end.After(lastEnd) {
				lastEnd = rec.end
			}
		}
		if rec.id == merge.id {
			mergeRecord = &records[i]
		}
	}
	for k, states := range history {
		require.NotEmpty(t, states, "sacct knows task %d", k)
		assert.Equal(t, "COMPLETED", states[len(states)-1], "task %d: %v", k, states)
	}
	// (Debian's SLURM 22.05 records a requeue as a PENDING job.)
	assert.Contains(t, history[1], "CANCELLED", "task 1 was cancelled, then requeued: %v", history[1])
	assert.Greater(t, len(history[2]), 1, "task 2 was requeued by its script: %v", history[2])
	require.NotNil(t, mergeRecord, "sacct knows the merge")
	assert.Equal(t, "COMPLETED", mergeRecord.state)
	assert.Equal(t, "rlm-evaluate-merge", mergeRecord.name)
	assert.False(t, mergeRecord.start.Before(lastEnd), "the merge started at %v, before the last task ended at %v", mergeRecord.start, lastEnd)

	// The logs are where README says, a requeued task's runs one after the
	// other in one file.
	log := readLog(t, filepath.Join(out, "logs", fmt.Sprintf("rlm-evaluate-%s_2.out", s.array)))
	assert.Regexp(t, `shard 2/4: run 1 of task `+task(2)+` on \S+, GPUs [0-7],[0-7], 0 examples done before`, log)
	assert.Contains(t, log, "time limit near, 1 examples done; requeued to go on")
	assert.Regexp(t, `shard 2/4: run 2 of task `+task(2)+` on \S+, GPUs [0-7],[0-7], 1 examples done before`, log)
	assert.Contains(t, readLog(t, filepath.Join(out, "logs", fmt.Sprintf("rlm-evaluate-%s_1.out", s.array))), "run 2 of task "+task(1))
}

// TestSlurmFailedTaskIsNotRequeued submits a run whose data file does not
// exist, as one CPU-only task: evaluate exits 1, and the task ends FAILED
// instead of requeueing itself, however long one waits; the merge runs
// after it and fails, naming the unfinished shard.
func TestSlurmFailedTaskIsNotRequeued(t *testing.T) {
	root := t.TempDir()
	c := startLocalCluster(t, root)
	out := filepath.Join(root, "run")
	args := testArgs(filepath.Join(root, "missing.jsonl"), "http://127.0.0.1:9", filepath.Join(root, "worker.gguf"))
	s := c.submit(t, []string{"SHARDS=1", "GPUS_PER_TASK=0", "CPUS_PER_TASK=1", "MEM_PER_TASK=1G", goFlagsEnv()}, out, args...)
	c.waitEnded(t, s, 2*time.Minute)

	// A requeued job waits out the cluster's cred_expire (5 s) before it
	// runs again: wait longer than that, and look again.
	time.Sleep(8 * time.Second)
	j := c.jobs(t, s.array)[0]
	assert.Equal(t, "FAILED", j.state)
	assert.Equal(t, "1:0", j.exitCode, "evaluate's status for bad input")
	assert.Zero(t, j.restarts)
	assert.Empty(t, j.fields["TresPerNode"], "GPUS_PER_TASK=0 asks for no GPU")
	assert.Contains(t, readLog(t, filepath.Join(out, "logs", fmt.Sprintf("rlm-evaluate-%s_0.out", s.array))), "missing.jsonl")

	merge := c.jobs(t, s.merge)[0]
	assert.Equal(t, "FAILED", merge.state)
	assert.Contains(t, readLog(t, filepath.Join(out, "logs", "rlm-evaluate-merge-"+s.merge+".out")), "shard-000-of-001")
}

// goFlagsEnv passes the test binary's build flags to submit.sh's go build,
// so that under -race it reuses the race build of llama.cpp.
func goFlagsEnv() string {
	return "GOFLAGS=" + strings.TrimSpace(os.Getenv("GOFLAGS")+" "+strings.Join(cmdtest.BuildFlags(), " "))
}

// shardDir is the output directory of shard k of n, as shard.sbatch names it.
func shardDir(out string, k, n int) string {
	return filepath.Join(out, fmt.Sprintf("shard-%03d-of-%03d", k, n))
}

// readLog reads a job's log.
func readLog(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(data)
}

// journalIDs reads the ids of a journal's lines, one per line, duplicates
// included.
func journalIDs(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var ids []string
	lines := bufio.NewScanner(f)
	lines.Buffer(nil, 1<<24)
	for lines.Scan() {
		var r Record
		require.NoError(t, json.Unmarshal(lines.Bytes(), &r), "%s", path)
		ids = append(ids, r.ID)
	}
	require.NoError(t, lines.Err())
	return ids
}

// clusterExamples are n examples from the transcripts (transcriptExamples)
// whose questions end in their number, "(question N)", so that the
// controller can tell which example a request is about.
func clusterExamples(t testing.TB, n int) []oolong.Example {
	examples := transcriptExamples(t, n)
	for i := range examples {
		e := &examples[i]
		e.Question = fmt.Sprintf("%s (question %d)", e.Question, i)
		e.ID = oolong.ExampleID(e.Campaign, e.Question, e.Episodes)
	}
	return examples
}

// questionNumber finds the number of a clusterExamples question.
var questionNumber = regexp.MustCompile(`\(question ([0-9]+)\)`)

// gatedController is the scripted controller with a gate. While the gate is
// closed, it holds the first request of each example of a shard that has
// already finished one (it looks at the shards' directories under out), so
// that every task stops in the middle of its run. It counts how many times
// each example started: its first request came.
type gatedController struct {
	URL string
	out string
	ids []string // example ids by number

	mu     sync.Mutex
	gate   chan struct{}  // nil while open; closed to open it
	held   map[string]int // shard directory → the example it holds
	starts map[int]int
}

func newGatedController(t *testing.T, examples []oolong.Example, out string) *gatedController {
	g := &gatedController{out: out, held: map[string]int{}, starts: map[int]int{}}
	for _, e := range examples {
		g.ids = append(g.ids, e.ID)
	}
	g.URL = newHookedController(t, g.hook).URL
	t.Cleanup(g.open) // before the server closes: it waits for held requests
	return g
}

func (g *gatedController) hook(r *http.Request, messages []rlm.Message) bool {
	if !startsExample(messages) {
		return false
	}
	m := questionNumber.FindStringSubmatch(messages[1].Content)
	if m == nil {
		return false
	}
	n, _ := strconv.Atoi(m[1])
	g.mu.Lock()
	g.starts[n]++
	gate := g.gate
	if gate != nil {
		if shard := g.shardOf(n); shard != "" && journalLength(shard) > 0 {
			g.held[shard] = n
		} else {
			gate = nil
		}
	}
	g.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
		}
	}
	return false
}

// shardOf returns the shard directory that runs example n: the one that
// holds its trajectory, which evaluate creates before the first request.
func (g *gatedController) shardOf(n int) string {
	matches, _ := filepath.Glob(filepath.Join(g.out, "shard-*", trajectoryDir, "*-"+g.ids[n]+".jsonl"))
	if len(matches) != 1 {
		return ""
	}
	return filepath.Dir(filepath.Dir(matches[0]))
}

// journalLength counts the examples in a shard's journal.
func journalLength(shard string) int {
	data, _ := os.ReadFile(filepath.Join(shard, journalName))
	return strings.Count(string(data), "\n")
}

// startsExample reports whether a controller request is the first of an
// example: the controller has not replied yet.
func startsExample(messages []rlm.Message) bool {
	for _, m := range messages {
		if m.Role == rlm.RoleAssistant {
			return false
		}
	}
	return true
}

// closeGate closes the gate and forgets the starts counted so far.
func (g *gatedController) closeGate() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gate = make(chan struct{})
	g.starts = map[int]int{}
}

// open opens the gate, letting every held request go on.
func (g *gatedController) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gate != nil {
		close(g.gate)
		g.gate = nil
	}
}

// waitHolding waits until n shards are held, and returns which example
// each holds.
func (g *gatedController) waitHolding(t *testing.T, n int, timeout time.Duration) map[string]int {
	t.Helper()
	var held map[string]int
	waitFor(t, timeout, fmt.Sprintf("%d shards in the middle of their runs", n), func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		held = map[string]int{}
		for shard, example := range g.held {
			held[shard] = example
		}
		return len(held) >= n
	})
	return held
}

// startCounts returns how many times each example started since the gate
// was closed.
func (g *gatedController) startCounts() map[int]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	counts := map[int]int{}
	for n, c := range g.starts {
		counts[n] = c
	}
	return counts
}
