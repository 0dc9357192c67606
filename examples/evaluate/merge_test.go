package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/interp/export/duckdbtest"
)

// runScript runs one of the SLURM scripts with bash, as a SLURM node would
// (its #SBATCH lines are comments to bash), with env added.
func runScript(t *testing.T, script string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command("bash", append([]string{filepath.Join("slurm", script)}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if exit, ok := err.(*exec.ExitError); ok {
		return result{exit.ExitCode(), stdout.String(), stderr.String()}
	}
	require.NoError(t, err)
	return result{0, stdout.String(), stderr.String()}
}

// TestShardsAndMerge runs an evaluation as three shards through the SLURM
// scripts (shard.sbatch as each array task, then merge.sbatch) and checks
// the merged results against an unsharded run: the same examples in the
// same order with the same answers, each shard holding whole context
// windows. Then it checks that merge refuses what is not one whole run.
func TestShardsAndMerge(t *testing.T) {
	dir := t.TempDir()
	examples := smallExamples(7)
	for i := range examples { // windows of three questions
		first := examples[i-i%3]
		examples[i].ContextWindowID, examples[i].ContextWindowText = first.ContextWindowID, first.ContextWindowText
	}
	data := writeSplit(t, dir, examples)
	ctrl := newScriptedController(t)
	worker := workerModel(t)
	flags := testArgs(data, ctrl.URL, worker, "-baseline") // the scripts choose -out

	whole := filepath.Join(dir, "whole")
	r := evaluate(t, nil, append(flags, "-out", whole)...)
	require.Equal(t, 0, r.code, r.stderr)
	want, err := readJournal(filepath.Join(whole, journalName))
	require.NoError(t, err)
	require.Len(t, want, 7)

	run := filepath.Join(dir, "run")
	env := []string{"EVALUATE_BIN=" + binary, "EVALUATE_OUT=" + run, "SHARDS=3"}
	windowShard := map[string]int{}
	sizes := make([]int, 3)
	for k := range 3 {
		r := runScript(t, "shard.sbatch", append(env, fmt.Sprintf("SLURM_ARRAY_TASK_ID=%d", k)), flags...)
		require.Equal(t, 0, r.code, r.stderr)
		shard, err := readJournal(filepath.Join(run, fmt.Sprintf("shard-%03d-of-003", k), journalName))
		require.NoError(t, err)
		assert.NotEmpty(t, shard, "shard %d", k)
		for _, rec := range shard {
			if other, ok := windowShard[rec.ContextWindowID]; ok {
				assert.Equal(t, other, k, "the questions of window %s are in shards %d and %d", rec.ContextWindowID, other, k)
			}
			windowShard[rec.ContextWindowID] = k
		}
		sizes[k] = len(shard)
	}
	r = runScript(t, "merge.sbatch", env)
	require.Equal(t, 0, r.code, r.stderr)
	merged := filepath.Join(run, "merged")
	assert.Contains(t, r.stdout, filepath.Join(merged, summaryMarkdownName))
	got, err := readJournal(filepath.Join(merged, journalName))
	require.NoError(t, err)
	require.Len(t, got, len(want))
	for i := range want {
		g := outcome(got[i])
		w := outcome(want[i])
		assert.Equal(t, fmt.Sprintf("../shard-%03d-of-003/%s", windowShard[w.ContextWindowID], w.Trajectory), g.Trajectory,
			"trajectory paths lead back into the shards")
		assert.FileExists(t, filepath.Join(merged, g.Trajectory))
		g.Trajectory, w.Trajectory = "", ""
		assert.Equal(t, w, g, "example %d", i)
	}
	checkTable(t, "duckdb", duckdbtest.Query(t, `SELECT * FROM read_parquet('`+filepath.Join(merged, tableName)+`') ORDER BY "index"`).Rows, got)
	mergedConfig, ok, err := loadConfig(merged)
	require.NoError(t, err)
	require.True(t, ok)
	wholeConfig, _, err := loadConfig(whole)
	require.NoError(t, err)
	assert.Equal(t, wholeConfig, mergedConfig, "the merged run is the unsharded one")

	shardDir := func(k int) string { return filepath.Join(run, fmt.Sprintf("shard-%03d-of-003", k)) }
	require.NoError(t, os.Remove(filepath.Join(shardDir(2), summaryJSONName)))
	other := filepath.Join(dir, "other")
	otherConfig, _, err := loadConfig(shardDir(1))
	require.NoError(t, err)
	otherConfig.Iterations = 7
	require.NoError(t, os.Mkdir(other, 0o755))
	require.NoError(t, saveConfig(other, otherConfig))
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"a missing shard", []string{shardDir(0), shardDir(1)}, "shards 2/3 are missing"},
		{"a shard twice", []string{shardDir(0), shardDir(1), shardDir(1)}, "are both shard 1/3"},
		{"an unfinished shard", []string{shardDir(0), shardDir(1), shardDir(2)}, "shard 2/3 in " + shardDir(2) + " has not finished"},
		{"another split", []string{shardDir(0), whole}, "splits the run 3 ways"},
		{"another run", []string{shardDir(0), other}, "different evaluations (iterations: 30 then 7)"},
		{"not a run", []string{shardDir(0), dir}, "not an evaluation's output directory"},
		{"into a shard", []string{"-out", shardDir(0), shardDir(0)}, "is one of the shards"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if args[0] != "-out" {
				args = append([]string{"-out", filepath.Join(dir, "bad")}, args...)
			}
			r := evaluate(t, nil, append([]string{"merge"}, args...)...)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, tt.want)
			assert.NoDirExists(t, filepath.Join(dir, "bad"))
		})
	}
	// -partial merges what there is.
	r = evaluate(t, nil, "merge", "-partial", "-out", filepath.Join(dir, "partial"), shardDir(0), shardDir(2))
	require.Equal(t, 0, r.code, r.stderr)
	partial, err := readJournal(filepath.Join(dir, "partial", journalName))
	require.NoError(t, err)
	assert.Len(t, partial, sizes[0]+sizes[2], "shards 0 and 2 of 7 examples")
}

// TestEmptyShardSucceeds gives three shards one context window: the two
// shards that hold none of it finish at once with empty reports, as an
// array task must for merge to run, and the merged run equals the whole.
func TestEmptyShardSucceeds(t *testing.T) {
	dir := t.TempDir()
	examples := smallExamples(2)
	examples[1].ContextWindowID, examples[1].ContextWindowText = examples[0].ContextWindowID, examples[0].ContextWindowText
	data := writeSplit(t, dir, examples)
	ctrl := newScriptedController(t)
	flags := testArgs(data, ctrl.URL, workerModel(t))

	whole := filepath.Join(dir, "whole")
	r := evaluate(t, nil, append(flags, "-out", whole)...)
	require.Equal(t, 0, r.code, r.stderr)
	want, err := readJournal(filepath.Join(whole, journalName))
	require.NoError(t, err)
	require.Len(t, want, 2)

	run := filepath.Join(dir, "run")
	env := []string{"EVALUATE_BIN=" + binary, "EVALUATE_OUT=" + run, "SHARDS=3"}
	empty := 0
	for k := range 3 {
		r := runScript(t, "shard.sbatch", append(env, fmt.Sprintf("SLURM_ARRAY_TASK_ID=%d", k)), flags...)
		require.Equal(t, 0, r.code, "shard %d: %s", k, r.stderr)
		shardDir := filepath.Join(run, fmt.Sprintf("shard-%03d-of-003", k))
		shard, err := readJournal(filepath.Join(shardDir, journalName))
		require.NoError(t, err)
		if len(shard) == 0 {
			empty++
			assert.FileExists(t, filepath.Join(shardDir, summaryJSONName), "an empty shard writes its reports")
		}
	}
	assert.Equal(t, 2, empty, "one window fills one shard of three")
	r = runScript(t, "merge.sbatch", env)
	require.Equal(t, 0, r.code, r.stderr)
	got, err := readJournal(filepath.Join(run, "merged", journalName))
	require.NoError(t, err)
	require.Len(t, got, len(want))
	for i := range want {
		g, w := outcome(got[i]), outcome(want[i])
		g.Trajectory, w.Trajectory = "", ""
		assert.Equal(t, w, g, "example %d", i)
	}
}
