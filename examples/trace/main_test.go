package main_test

import (
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/examples/internal/cmdtest"
	"github.com/go-rlm/rlm/internal/crd3test"
	"github.com/go-rlm/rlm/interp/trace"
	"github.com/go-rlm/rlm/llama/llamatest"
	"github.com/go-rlm/rlm/rlm"
)

var binary string

func TestMain(m *testing.M) { cmdtest.Main(m, &binary) }

func runTrace(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return cmdtest.Run(t, binary, args...)
}

func needPython(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not found: the REPL needs it")
	}
}

// checkOutputs checks the files a run wrote into out against each other:
// the trace's sub-calls are the trajectory's, and the patched sub-calls
// re-ran to their recorded answers.
func checkOutputs(t *testing.T, out, stdout string, chunk, chunks, patched int) {
	t.Helper()
	subCalls, err := trace.ReadSubCalls(context.Background(), filepath.Join(out, "trace", "run-001.parquet"))
	require.NoError(t, err)
	require.Len(t, subCalls, chunks)
	answers := map[int64]string{}
	for i, sc := range subCalls {
		assert.Equal(t, i*chunk, sc.Offset, "sub-call %d", sc.ID)
		assert.NotEmpty(t, sc.Prompt)
		answers[sc.ID] = sc.Answer
	}

	f, err := os.Open(filepath.Join(out, "trajectory.jsonl"))
	require.NoError(t, err)
	defer f.Close()
	tr, err := rlm.ReadTrajectory(f)
	require.NoError(t, err)
	n := 0
	for _, rec := range tr.Records {
		if rec.SubCall != nil {
			n++
			assert.Equal(t, answers[rec.SubCall.ID], rec.SubCall.Answer, "sub-call %d: the trajectory and the trace agree", rec.SubCall.ID)
		}
	}
	assert.Equal(t, chunks, n)
	html, err := os.ReadFile(filepath.Join(out, "trajectory.html"))
	require.NoError(t, err)
	assert.Contains(t, string(html), "<html")

	patches := cmdtest.ReadCSV(t, filepath.Join(out, "patches.csv"))
	require.Len(t, patches, 1+patched)
	assert.Equal(t, []string{"sub_call", "patch", "answer_before", "answer_after", "changed", "logp_before", "logp_after"}, patches[0])
	for _, p := range patches[1:] {
		id, err := strconv.ParseInt(p[0], 10, 64)
		require.NoError(t, err)
		answer, ok := answers[id]
		require.True(t, ok, "patched sub-call %d is in the trace", id)
		assert.Equal(t, answer, p[2], "the re-run without the patch gives the recorded answer")
		assert.Contains(t, p[1], "zero blocks.")
	}

	layers := cmdtest.ReadCSV(t, filepath.Join(out, "layers.csv"))
	assert.Len(t, layers, 1+4, "a header and the default model's 4 layers")
	img, err := os.Open(filepath.Join(out, "layers.png"))
	require.NoError(t, err)
	defer img.Close()
	_, err = png.DecodeConfig(img)
	assert.NoError(t, err, "layers.png is a PNG")

	summary, err := os.ReadFile(filepath.Join(out, "summary.txt"))
	require.NoError(t, err)
	assert.Equal(t, string(summary), stdout, "the summary is printed too")
	assert.Contains(t, stdout, "controller:  scripted")
}

// TestGeneratedDocument runs the example on its generated transcript with a
// generated worker model.
func TestGeneratedDocument(t *testing.T) {
	needPython(t)
	model := llamatest.Model(t, llamatest.DefaultConfig())
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := runTrace(t, "-model", model, "-out", out, "-chunk", "200", "-max-chunks", "3",
		"-patch", "2", "-threads", "2", "-ctx", "1024", "-max-tokens", "3")
	require.Equal(t, 0, code, stderr)
	checkOutputs(t, out, stdout, 200, 3, 2)
	assert.Contains(t, stdout, "sub-calls:   3 traced")
}

// TestTranscript runs the example on the first Critical Role episode.
func TestTranscript(t *testing.T) {
	needPython(t)
	doc := filepath.Join(crd3test.Dir(t, 1), "campaign1", "C1E001.txt")
	model := llamatest.Model(t, llamatest.DefaultConfig())
	out := t.TempDir()
	code, stdout, stderr := runTrace(t, "-model", model, "-out", out, "-doc", doc, "-chunk", "300", "-max-chunks", "2",
		"-patch", "1", "-threads", "2", "-ctx", "1024", "-max-tokens", "3")
	require.Equal(t, 0, code, stderr)
	checkOutputs(t, out, stdout, 300, 2, 1)
	transcript, err := os.ReadFile(doc)
	require.NoError(t, err)
	subCalls, err := trace.ReadSubCalls(context.Background(), filepath.Join(out, "trace", "run-001.parquet"))
	require.NoError(t, err)
	for _, sc := range subCalls {
		assert.Equal(t, 300, sc.Length)
		assert.Contains(t, string(transcript), string(transcript[sc.Offset:sc.Offset+sc.Length]))
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	model := llamatest.Model(t, llamatest.DefaultConfig())
	tests := []struct {
		name, want string
		args       []string
	}{
		{"no model", "-model is required", []string{"-out", dir}},
		{"no output", "-out is required", []string{"-model", model}},
		{"missing document", "no such file", []string{"-model", model, "-out", dir, "-doc", filepath.Join(dir, "none.txt")}},
		{"layer out of range", "the model has 4 layers", []string{"-model", model, "-out", dir, "-layer", "9"}},
		{"bad chunk", "must be positive", []string{"-model", model, "-out", dir, "-chunk", "0"}},
		{"unknown flag", "flag provided but not defined", []string{"-model", model, "-out", dir, "-bogus"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runTrace(t, tt.args...)
			cmdtest.AssertFailed(t, "trace", tt.want, code, stdout, stderr)
		})
	}
}
