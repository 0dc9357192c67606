package main_test

import (
	"context"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/examples/internal/cmdtest"
	"github.com/go-rlm/rlm/llama/llamatest"
)

var binary string

func TestMain(m *testing.M) { cmdtest.Main(m, &binary) }

func patching(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return cmdtest.Run(t, binary, append([]string{"-threads", "1"}, args...)...)
}

// readTable reads patching.parquet with Arrow Go: the column names and the
// normalized column.
func readTable(t *testing.T, path string) ([]string, []float64, []int32) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	tbl, err := pqarrow.ReadTable(context.Background(), f, nil, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	require.NoError(t, err)
	defer tbl.Release()
	var names []string
	for _, fld := range tbl.Schema().Fields() {
		names = append(names, fld.Name)
	}
	var norm []float64
	var heads []int32
	for _, chunk := range tbl.Column(6).Data().Chunks() {
		norm = append(norm, chunk.(*array.Float64).Float64Values()...)
	}
	for _, chunk := range tbl.Column(3).Data().Chunks() {
		heads = append(heads, chunk.(*array.Int32).Int32Values()...)
	}
	return names, norm, heads
}

func decodePNG(t *testing.T, path string) (int, int) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	return img.Bounds().Dx(), img.Bounds().Dy()
}

func TestResidualSweep(t *testing.T) {
	model := llamatest.Model(t, llamatest.DefaultConfig())
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := patching(t, "-model", model, "-out", out, "-kind", "resid_post", "-correct", "1", "-wrong", "0")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, `logit("1") − logit("0")`)
	assert.Contains(t, stdout, "56 patched runs of resid_post")

	w, h := decodePNG(t, filepath.Join(out, "patching.png"))
	assert.Greater(t, w, 300)
	assert.Greater(t, h, 200)
	names, norm, heads := readTable(t, filepath.Join(out, "patching.parquet"))
	assert.Equal(t, []string{"kind", "layer", "position", "head", "label", "value", "normalized"}, names)
	require.Len(t, norm, 4*14, "4 layers × 14 positions")
	// The last layer's last position decides the logits: patching it
	// restores the clean run entirely.
	assert.InDelta(t, 1, norm[len(norm)-1], 1e-9)
	for _, h := range heads {
		assert.EqualValues(t, -1, h)
	}
}

func TestHeadSweepWithDefaultAnswers(t *testing.T) {
	model := llamatest.Model(t, llamatest.DefaultConfig())
	out := t.TempDir()
	code, stdout, stderr := patching(t, "-model", model, "-out", out, "-kind", "z", "-by-head", "-sequences", "4")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "224 patched runs of z")
	_, norm, heads := readTable(t, filepath.Join(out, "patching.parquet"))
	require.Len(t, norm, 4*4*14, "4 layers × 4 heads × 14 positions")
	assert.EqualValues(t, []int32{0, 1, 2, 3}, heads[:4])
	decodePNG(t, filepath.Join(out, "patching.png"))
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
		{"lengths differ", "must be as long", []string{"-model", model, "-out", dir, "-corrupted", "Vax"}},
		{"answer of two tokens", `-correct "17" is 2 tokens`, []string{"-model", model, "-out", dir, "-correct", "17", "-wrong", "0"}},
		{"no heads", "no heads", []string{"-model", model, "-out", dir, "-kind", "mlp_out", "-by-head"}},
		{"unknown kind", "unknown hook point", []string{"-model", model, "-out", dir, "-kind", "nothing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := patching(t, tt.args...)
			cmdtest.AssertFailed(t, "patching", tt.want, code, stdout, stderr)
		})
	}
}
