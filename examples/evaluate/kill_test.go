package main

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm"
)

// TestKillNineAndResume kills the command with SIGKILL at 20 random moments
// of a run, restarting it each time, then lets it finish, and compares the
// results with those of a clean run: the same examples, each recorded once,
// with the same answers and scores (the models are deterministic: greedy
// decoding and a scripted controller), the memo of the worker's answers on
// (-share, the default), so that answers it kept across the kills are
// served to the restarted runs. The moments are drawn up to a third
// of the clean run's time, so that the kills fall all along the run:
// while it starts, in the middle of examples, between them, while it writes
// the reports.
func TestKillNineAndResume(t *testing.T) {
	dir := t.TempDir()
	data := writeSplit(t, dir, transcriptExamples(t, 8))
	ctrl := newScriptedController(t)
	worker := workerModel(t)
	clean, killed := filepath.Join(dir, "clean"), filepath.Join(dir, "killed")

	start := time.Now()
	r := evaluate(t, nil, testArgs(data, ctrl.URL, worker, "-baseline", "-baseline-fit", "truncate", "-out", clean)...)
	require.Equal(t, 0, r.code, r.stderr)
	window := time.Since(start) / 3

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	t.Logf("seed %d; kills within %v of each start", seed, window)
	finished := 0
	for kill := range 20 {
		var stderr bytes.Buffer
		cmd := exec.Command(binary, testArgs(data, ctrl.URL, worker, "-baseline", "-baseline-fit", "truncate", "-out", killed)...)
		cmd.Stderr = &stderr
		require.NoError(t, cmd.Start())
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			require.NoError(t, err, "run %d ended before its kill: %s", kill, stderr.String())
			finished++
		case <-time.After(time.Duration(rng.Int64N(int64(window)))):
			// The run may have ended just as the timer fired.
			if err := cmd.Process.Kill(); err != nil {
				require.ErrorIs(t, err, os.ErrProcessDone)
			}
			<-done
		}
		// Whatever the moment, what is on disk is a journal and a memo of
		// the worker's answers a restart can read: complete lines, or a
		// torn last one at worst, which the restart cuts off.
		if _, err := os.Stat(filepath.Join(killed, journalName)); err == nil {
			_, err := readJournal(filepath.Join(killed, journalName))
			require.NoError(t, err, "after kill %d", kill)
		}
		if memo, err := os.ReadFile(filepath.Join(killed, subCallsName)); err == nil {
			_, err := rlm.ReadMemoryCache(bytes.NewReader(memo[:bytes.LastIndexByte(memo, '\n')+1]))
			require.NoError(t, err, "after kill %d", kill)
		}
	}
	t.Logf("%d of 20 runs finished before their kill", finished)
	r = evaluate(t, nil, testArgs(data, ctrl.URL, worker, "-baseline", "-baseline-fit", "truncate", "-out", killed)...)
	require.Equal(t, 0, r.code, r.stderr)

	want, err := readJournal(filepath.Join(clean, journalName))
	require.NoError(t, err)
	raw, err := os.ReadFile(filepath.Join(killed, journalName))
	require.NoError(t, err)
	assert.True(t, bytes.HasSuffix(raw, []byte("\n")), "no torn line is left")
	assert.Equal(t, len(want), bytes.Count(raw, []byte("\n")), "one line per example, none twice")
	got, err := readJournal(filepath.Join(killed, journalName))
	require.NoError(t, err)
	require.Len(t, got, len(want))
	hits := 0
	for i := range want {
		assert.Equal(t, outcome(want[i]), outcome(got[i]), "example %d", i)
		hits += got[i].SubCallCacheHits
	}
	assert.Positive(t, hits, "the memo of the worker's answers served the questions that share a window")
	memo, err := os.ReadFile(filepath.Join(killed, subCallsName))
	require.NoError(t, err)
	assert.True(t, bytes.HasSuffix(memo, []byte("\n")), "no torn entry is left")

	// The tables agree too, and nothing temporary is left behind.
	wantRows, gotRows := arrowRows(t, filepath.Join(clean, tableName)), arrowRows(t, filepath.Join(killed, tableName))
	require.Len(t, gotRows, len(wantRows))
	for i := range wantRows {
		for _, column := range []string{"index", "id", "answer", "score", "sub_calls", "code_blocks_failed", "baseline_answer", "baseline_score"} {
			assert.Equal(t, wantRows[i][column], gotRows[i][column], "row %d, %s", i, column)
		}
	}
	for _, d := range []string{killed, filepath.Join(killed, trajectoryDir)} {
		entries, err := os.ReadDir(d)
		require.NoError(t, err)
		for _, e := range entries {
			assert.False(t, strings.HasPrefix(e.Name(), tempPrefix), "%s left in %s", e.Name(), d)
		}
	}
}

// outcome is what a record says about an example, without its timings
// and without what depends on the memo of the worker's answers (which a
// killed run may have filled before it recorded the example).
func outcome(r Record) Record {
	r.Seconds = 0
	r.SubCallCacheHits, r.WorkerPromptTokens, r.WorkerCompletionTokens = 0, 0, 0
	if r.Baseline != nil {
		b := *r.Baseline
		b.Seconds = 0
		r.Baseline = &b
	}
	return r
}
