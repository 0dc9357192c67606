package main_test

import (
	"context"
	"encoding/csv"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/examples/internal/cmdtest"
	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/llama/llamatest"
)

var binary string

func TestMain(m *testing.M) { cmdtest.Main(m, &binary) }

func logitlens(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return cmdtest.Run(t, binary, append([]string{"-threads", "1"}, args...)...)
}

// modelTopToken is the model's own most likely next token after prompt.
func modelTopToken(t *testing.T, path, prompt string) llama.Token {
	t.Helper()
	m, err := llama.LoadModel(context.Background(), path)
	require.NoError(t, err)
	defer m.Close()
	c, err := m.NewContext(llama.WithContextSize(256), llama.WithThreads(1, 1))
	require.NoError(t, err)
	defer c.Close()
	toks, err := m.Tokenize(prompt, true, true)
	require.NoError(t, err)
	var b llama.Batch
	b.AddSequence(toks, 0, 0, true)
	require.NoError(t, c.Decode(context.Background(), &b))
	logits, err := c.Logits(b.Len() - 1)
	require.NoError(t, err)
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	return llama.Token(best)
}

func TestLogitLens(t *testing.T) {
	model := llamatest.Model(t, llamatest.DefaultConfig())
	out := t.TempDir()
	const prompt = "Pike prays"
	code, stdout, stderr := logitlens(t, "-model", model, "-out", out, "-prompt", prompt, "-k", "3")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "4 layers × 10 positions")

	f, err := os.Open(filepath.Join(out, "logitlens.png"))
	require.NoError(t, err)
	img, err := png.Decode(f)
	f.Close()
	require.NoError(t, err)
	assert.Greater(t, img.Bounds().Dx(), 300)

	f, err = os.Open(filepath.Join(out, "logitlens.csv"))
	require.NoError(t, err)
	records, err := csv.NewReader(f).ReadAll()
	f.Close()
	require.NoError(t, err)
	require.Len(t, records, 1+4*10*3)
	assert.Equal(t, []string{"layer", "hook", "position", "input", "rank", "token", "piece", "logit", "prob"}, records[0])
	// The last row block is the last layer at the last position: its rank
	// 1 token is what the model itself predicts.
	want := modelTopToken(t, model, prompt)
	top := records[len(records)-3]
	assert.Equal(t, []string{"3", "blocks.3.hook_resid_post", "9", "s", "1"}, top[:5])
	assert.Equal(t, strconv.Itoa(int(want)), top[5])
}

func TestErrors(t *testing.T) {
	model := llamatest.Model(t, llamatest.DefaultConfig())
	dir := t.TempDir()
	tests := []struct {
		name, want string
		args       []string
	}{
		{"no model", "-model is required", []string{"-out", dir}},
		{"no out", "-out is required", []string{"-model", model}},
		{"bad k", "-k must be positive", []string{"-model", model, "-out", dir, "-k", "0"}},
		{"missing file", "no such file", []string{"-model", filepath.Join(dir, "none.gguf"), "-out", dir}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := logitlens(t, tt.args...)
			cmdtest.AssertFailed(t, "logitlens", tt.want, code, stdout, stderr)
		})
	}
}
