package main_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/go-rlm/rlm/examples/internal/cmdtest"
	"github.com/go-rlm/rlm/llama/llamatest"
	"github.com/go-rlm/rlm/rlm"
)

var binary string

func TestMain(m *testing.M) { cmdtest.Main(m, &binary) }

func quickstart(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return cmdtest.Run(t, binary, args...)
}

// TestRandomModelsEndCleanly runs the quickstart with two models of random
// weights: the controller cannot write code, so the run uses its iterations
// and says that no final answer came.
func TestRandomModelsEndCleanly(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not found: the REPL needs it")
	}
	cfg := llamatest.DefaultConfig()
	cfg.Seed = 2
	controller := llamatest.Model(t, cfg)
	worker := llamatest.Model(t, llamatest.DefaultConfig())
	dir := t.TempDir()
	doc := filepath.Join(dir, "doc.txt")
	require.NoError(t, os.WriteFile(doc, []byte(strings.Repeat("Matt: Roll initiative.\nLaura: 17.\n", 40)), 0o644))
	jsonl, page := filepath.Join(dir, "run.jsonl"), filepath.Join(dir, "run.html")

	code, stdout, stderr := quickstart(t, "-controller", controller, "-worker", worker, "-doc", doc,
		"-q", "How many rolls?", "-iterations", "2", "-max-reply", "64", "-ctx", "8192", "-threads", "1",
		"-trajectory", jsonl, "-html", page)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "no final answer came")
	assert.Contains(t, stdout, "iterations:   3", "two iterations and the last request for an answer")
	assert.Contains(t, stdout, "devices:      controller CPU, worker CPU")

	f, err := os.Open(jsonl)
	require.NoError(t, err)
	defer f.Close()
	tr, err := rlm.ReadTrajectory(f)
	require.NoError(t, err)
	res, ok := tr.Result()
	require.True(t, ok)
	assert.False(t, res.Final)
	assert.Equal(t, rlm.StopMaxIterations, res.Stop)

	pageBytes, err := os.ReadFile(page)
	require.NoError(t, err)
	_, err = html.Parse(bytes.NewReader(pageBytes))
	require.NoError(t, err)
	assert.Contains(t, string(pageBytes), "How many rolls?")
}

// TestSessionWithNamedWorkers asks two questions in one session, with a
// second worker and the FINAL protocol: one REPL serves both questions.
func TestSessionWithNamedWorkers(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not found: the REPL needs it")
	}
	model := llamatest.Model(t, llamatest.DefaultConfig())
	dir := t.TempDir()
	doc := filepath.Join(dir, "doc.txt")
	require.NoError(t, os.WriteFile(doc, []byte(strings.Repeat("Matt: Roll initiative.\nLaura: 17.\n", 40)), 0o644))
	jsonl := filepath.Join(dir, "run.jsonl")

	code, stdout, stderr := quickstart(t, "-controller", model, "-worker", model, "-extra-worker", "big="+model,
		"-doc", doc, "-q", "How many rolls?", "-q", "Who rolls?", "-protocol", "final",
		"-iterations", "1", "-max-reply", "16", "-ctx", "8192", "-threads", "1", "-trajectory", jsonl)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "question 1:   How many rolls?")
	assert.Contains(t, stdout, "question 2:   Who rolls?")
	assert.Contains(t, stdout, "REPL:         1 started, 1 document(s) bound")

	f, err := os.Open(jsonl)
	require.NoError(t, err)
	defer f.Close()
	tr, err := rlm.ReadTrajectory(f)
	require.NoError(t, err)
	var starts []rlm.RunStartEvent
	for _, rec := range tr.Records {
		if rec.Type == rlm.RecordRunStart {
			starts = append(starts, *rec.RunStart)
		}
	}
	require.Len(t, starts, 2)
	assert.Equal(t, 2, starts[1].Turn)
	assert.Equal(t, "final", starts[0].Protocol)
	assert.Contains(t, starts[0].SystemPrompt, "FINAL_VAR(x)")
	assert.Contains(t, starts[0].SystemPrompt, "`\"default\"`, `\"big\"`", "the controller is told of both workers")
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	doc := filepath.Join(dir, "doc.txt")
	require.NoError(t, os.WriteFile(doc, []byte("text"), 0o644))
	model := llamatest.Model(t, llamatest.DefaultConfig())
	tests := []struct {
		name, want string
		args       []string
	}{
		{"no models", "-controller and -worker are required", []string{"-doc", doc, "-q", "?"}},
		{"no doc", "-doc is required", []string{"-controller", model, "-worker", model, "-q", "?"}},
		{"no question", "-q is required", []string{"-controller", model, "-worker", model, "-doc", doc}},
		{"missing doc", "no such file", []string{"-controller", model, "-worker", model, "-doc", filepath.Join(dir, "none"), "-q", "?"}},
		{"bad model", "not a GGUF file", []string{"-controller", doc, "-worker", model, "-doc", doc, "-q", "?"}},
		{"bad protocol", "unknown protocol", []string{"-controller", model, "-worker", model, "-doc", doc, "-q", "?", "-protocol", "submit"}},
		{"bad extra worker", "want NAME=MODEL", []string{"-controller", model, "-worker", model, "-doc", doc, "-q", "?", "-extra-worker", model}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := quickstart(t, tt.args...)
			cmdtest.AssertFailed(t, "quickstart", tt.want, code, stdout, stderr)
		})
	}
}
