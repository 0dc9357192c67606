package main_test

import (
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/examples/internal/cmdtest"
	"github.com/go-rlm/rlm/llama/llamatest"
)

var binary string

func TestMain(m *testing.M) { cmdtest.Main(m, &binary) }

func steer(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return cmdtest.Run(t, binary, append([]string{"-threads", "1"}, args...)...)
}

func TestSteer(t *testing.T) {
	model := llamatest.Model(t, llamatest.DefaultConfig())
	out := t.TempDir()
	code, stdout, stderr := steer(t, "-model", model, "-out", out, "-layer", "2", "-coeffs", "-6,0,6", "-n", "12")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "steered block 2")

	records := cmdtest.ReadCSV(t, filepath.Join(out, "steer.csv"))
	require.Len(t, records, 1+3*2)
	assert.Equal(t, []string{"coefficient", "method", "projection", "top_token", "continuation"}, records[0])
	proj := map[string]float64{}
	for i := 1; i < len(records); i += 2 {
		hook, cv := records[i], records[i+1]
		assert.Equal(t, "hook", hook[1])
		assert.Equal(t, "control vector", cv[1])
		assert.Equal(t, hook[0], cv[0])
		h, err := strconv.ParseFloat(hook[2], 64)
		require.NoError(t, err)
		c, err := strconv.ParseFloat(cv[2], 64)
		require.NoError(t, err)
		assert.InDelta(t, h, c, 1e-3, "coefficient %s: the two ways steer alike", hook[0])
		assert.Equal(t, hook[3], cv[3])
		assert.Equal(t, hook[4], cv[4], "the same greedy continuation")
		proj[hook[0]] = h
	}
	assert.Greater(t, proj["6"], proj["0"])
	assert.Greater(t, proj["0"], proj["-6"])
	assert.NotEqual(t, records[1][4], records[5][4], "steering changes the continuation")

	assert.Len(t, cmdtest.ReadCSV(t, filepath.Join(out, "vector.csv")), 1+64)
	f, err := os.Open(filepath.Join(out, "steer.png"))
	require.NoError(t, err)
	defer f.Close()
	_, err = png.Decode(f)
	require.NoError(t, err)
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
		{"bad coefficient", `"x" is not a number`, []string{"-model", model, "-out", dir, "-coeffs", "1,x"}},
		{"layer 0", "-layer 0 outside [1, 4)", []string{"-model", model, "-out", dir, "-layer", "0"}},
		{"bad n", "-n must be positive", []string{"-model", model, "-out", dir, "-n", "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := steer(t, tt.args...)
			cmdtest.AssertFailed(t, "steer", tt.want, code, stdout, stderr)
		})
	}
}
