package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCommandLineErrors checks that a malformed command line exits with
// status 2 and says what is wrong on one line, before anything is done.
func TestCommandLineErrors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	base := []string{"-worker", "w.gguf", "-controller", "c.gguf", "-out", out}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no worker", []string{"-controller", "c.gguf", "-out", out}, "-worker is required"},
		{"no controller", []string{"-worker", "w.gguf", "-out", out}, "give the controller as either -controller"},
		{"two controllers", append(base, "-controller-url", "http://127.0.0.1:1/v1"), "give the controller as either -controller"},
		{"no output", []string{"-worker", "w.gguf", "-controller", "c.gguf"}, "-out is required"},
		{"bad config", append(base, "-config", "trec"), `-config "trec": want dnd or toy_dnd`},
		{"bad split", append(base, "-split", "train"), `-split "train"`},
		{"bad type", append(base, "-types", "singledoc_rolls,dice"), `unknown question type "dice"`},
		{"bad shard", append(base, "-shard", "3/3"), "want k/N with 0 <= k < N"},
		{"bad preset", append(base, "-preset", "huge"), `-preset "huge": want laptop or reference`},
		{"bad bins", append(base, "-bins", "10K,5K"), "edges must increase"},
		{"bad time limit", append(base, "-time-limit", "soon"), "-time-limit"},
		{"reply longer than the context", append(base, "-worker-ctx", "512", "-worker-max-tokens", "600"), "must be below -worker-ctx"},
		{"unknown flag", append(base, "-bogus"), "flag provided but not defined: -bogus"},
		{"stray argument", append(base, "extra"), `unexpected arguments ["extra"]`},
		{"merge without output", []string{"merge", out}, "merge: -out is required"},
		{"merge without shards", []string{"merge", "-out", out}, "name the shards' output directories"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := evaluate(t, nil, tt.args...)
			assert.Equal(t, 2, r.code)
			assert.Empty(t, r.stdout)
			last := strings.TrimSpace(r.stderr)
			last = last[strings.LastIndexByte(last, '\n')+1:]
			assert.True(t, strings.HasPrefix(last, "evaluate: "), r.stderr)
			assert.Contains(t, last, tt.want)
			assert.NoDirExists(t, out)
		})
	}
}

// TestPresetsYieldToFlags checks that a preset fills in only the flags the
// command line leaves out: with -controller-url given, the preset's
// controller model does not come back as a second controller.
func TestPresetsYieldToFlags(t *testing.T) {
	s, err := parseEvaluateFlags([]string{"-preset", "reference", "-worker-ctx", "4096", "-controller-url", "http://127.0.0.1:1/v1", "-out", "o"}, os.Stderr)
	require.NoError(t, err)
	p, _ := findPreset("reference")
	for _, v := range p.values {
		switch v[0] {
		case "worker":
			assert.Equal(t, v[1], s.Worker)
		case "worker-ctx":
			assert.Equal(t, 4096, s.WorkerContext, "the flag given wins")
		case "controller-device":
			assert.Equal(t, v[1], s.ControllerDevice)
		}
	}
	assert.Empty(t, s.Controller, "-controller-url replaces the preset's controller")
	assert.Equal(t, defaultChunkChars(4096, s.WorkerMaxTokens), s.ChunkChars, "the chunk size follows the worker's context")
}

// TestRefusesAForeignDirectory checks that results never go into a
// directory that holds something else.
func TestRefusesAForeignDirectory(t *testing.T) {
	out := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(out, "notes.txt"), []byte("mine"), 0o644))
	r := evaluate(t, nil, "-worker", "w.gguf", "-controller", "c.gguf", "-data", "none.jsonl", "-out", out)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "is not empty and holds no config.json")
}

// TestFailedExamples checks what happens to examples whose run fails (the
// controller answers 400 to two questions): a streak as long as
// -max-failures stops the run with them unrecorded, so that a rerun tries
// them again; shorter streaks are recorded, in order, scored 0.
func TestFailedExamples(t *testing.T) {
	dir := t.TempDir()
	data := writeSplit(t, dir, smallExamples(4))
	ctrl := newFailingController(t, func(question string) bool {
		return strings.Contains(question, "(1)") || strings.Contains(question, "(2)")
	})
	out := filepath.Join(dir, "out")
	args := testArgs(data, ctrl.URL, workerModel(t), "-out", out)

	r := evaluate(t, nil, append(args, "-max-failures", "2")...)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "2 examples failed in a row")
	assert.Contains(t, r.stderr, "scripted failure")
	records, err := readJournal(filepath.Join(out, journalName))
	require.NoError(t, err)
	require.Len(t, records, 1, "only the example before the streak is recorded")
	assert.Equal(t, "small-0", records[0].ID)
	assert.NoFileExists(t, filepath.Join(out, summaryJSONName), "no reports while examples are left")

	r = evaluate(t, nil, append(args, "-max-failures", "3")...)
	require.Equal(t, 0, r.code, r.stderr)
	records, err = readJournal(filepath.Join(out, journalName))
	require.NoError(t, err)
	require.Len(t, records, 4)
	for i, rec := range records {
		assert.Equal(t, i, rec.Index, "the failures are recorded in their place")
		failed := i == 1 || i == 2
		assert.Equal(t, failed, rec.Error != "", "example %d", i)
		if failed {
			assert.Contains(t, rec.Error, "scripted failure")
			assert.Zero(t, rec.Score)
			assert.Equal(t, "error", rec.Stop)
		}
	}
	s := summaryOf(t, out)
	assert.Equal(t, 2, s.Failed)
}

// TestProgressOnATerminal runs the command on a pseudo-terminal (through
// util-linux's script) and checks that it draws a bar with an ETA, redrawn
// in place, where a pipe gets plain lines (see TestEvaluate).
func TestProgressOnATerminal(t *testing.T) {
	scriptTool, err := exec.LookPath("script")
	if err != nil {
		t.Skip("util-linux's script is not installed: no pseudo-terminal to run on")
	}
	dir := t.TempDir()
	data := writeSplit(t, dir, smallExamples(3))
	ctrl := newScriptedController(t)
	quoted := []string{binary}
	for _, a := range testArgs(data, ctrl.URL, workerModel(t), "-out", filepath.Join(dir, "out")) {
		quoted = append(quoted, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	out, err := exec.Command(scriptTool, "-qec", strings.Join(quoted, " "), "/dev/null").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Regexp(t, `\revaluate +[0-9]+% \[=*>? *\] +[12]/3 examples .*ETA`, string(out))
	assert.Contains(t, string(out), "3/3 examples")
}

// TestEmptySelection checks that a selection that keeps nothing is an
// error that leaves no output directory behind.
func TestEmptySelection(t *testing.T) {
	dir := t.TempDir()
	data := writeSplit(t, dir, smallExamples(2))
	out := filepath.Join(dir, "out")
	r := evaluate(t, nil, testArgs(data, "http://127.0.0.1:1", workerModel(t),
		"-min-context-tokens", "10", "-max-context-tokens", "100", "-out", out)...)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "no example of dnd/test passes the filters")
	assert.NoDirExists(t, out)
}
