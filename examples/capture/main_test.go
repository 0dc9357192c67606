package main_test

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/examples/internal/cmdtest"
	"github.com/go-rlm/rlm/interp/export"
	"github.com/go-rlm/rlm/llama/llamatest"
)

var binary string

func TestMain(m *testing.M) { cmdtest.Main(m, &binary) }

func capture(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return cmdtest.Run(t, binary, args...)
}

func TestCaptureWritesParquet(t *testing.T) {
	model := llamatest.Model(t, llamatest.DefaultConfig())
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := capture(t, "-model", model, "-out", out, "-threads", "1",
		"-hooks", "blocks.*.hook_resid_post,blocks.1.attn.hook_pattern", "-prompt", "Hello", "-prompt", "Vex!")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "captured 5 hook points of 2 prompts")

	f, err := os.Open(filepath.Join(out, "activations.parquet"))
	require.NoError(t, err)
	defer f.Close()
	rows := map[string]int{}
	require.NoError(t, export.ReadParquet(context.Background(), f, func(r *export.Row) error {
		rows[r.Hook]++
		assert.Equal(t, "capture", r.Run)
		if r.Hook == "blocks.1.attn.hook_pattern" {
			n := map[int64]int{0: 5, 1: 4}[r.Sequence]
			assert.Len(t, r.Values, 4*n, "4 heads × the prompt's positions")
		} else {
			assert.Len(t, r.Values, 64)
		}
		return nil
	}))
	assert.Equal(t, map[string]int{
		"blocks.0.hook_resid_post": 9, "blocks.1.hook_resid_post": 9, "blocks.2.hook_resid_post": 9,
		"blocks.3.hook_resid_post": 9, "blocks.1.attn.hook_pattern": 9,
	}, rows)

	hp, err := os.Open(filepath.Join(out, "hook_points.csv"))
	require.NoError(t, err)
	defer hp.Close()
	records, err := csv.NewReader(hp).ReadAll()
	require.NoError(t, err)
	assert.Equal(t, []string{"name", "node", "base", "layer"}, records[0])
	assert.Contains(t, records, []string{"blocks.2.hook_attn_out", "ffn_inp-2", "l_out-1", "2"})
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
		{"missing file", "no such file", []string{"-model", filepath.Join(dir, "none.gguf"), "-out", dir}},
		{"unknown hook", "blocks.{0..3}.hook_resid_post", []string{"-model", model, "-out", dir, "-hooks", "blocks.9.hook_resid_post"}},
		// 3000 tokens × 64 values × 8 bytes is more than 1 MiB.
		{"over the limit", "memory limit", []string{"-model", model, "-out", dir, "-limit", "1", "-hooks", "l_out-1", "-prompt", strings.Repeat("a", 3000)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := capture(t, append([]string{"-threads", "1"}, tt.args...)...)
			cmdtest.AssertFailed(t, "capture", tt.want, code, stdout, stderr)
		})
	}
}
