package llama_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/llama/gguf"
	"github.com/go-rlm/rlm/llama/llamatest"
)

// TestPureGoDequantizationMatchesGGML reads every tensor of models quantized
// by llama.cpp and converts it twice, with package gguf's pure-Go code and
// with ggml's own routines: the values must be identical.
func TestPureGoDequantizationMatchesGGML(t *testing.T) {
	cfg := llamatest.DefaultConfig()
	cfg.Embd, cfg.FF = 256, 512
	src := llamatest.Model(t, cfg)
	dir := t.TempDir()
	seen := map[gguf.Type]bool{}
	for _, ft := range []llama.FileType{llama.FileTypeF16, gguf.FileTypeMostlyBF16, llama.FileTypeQ8_0, llama.FileTypeQ4_0, llama.FileTypeQ4_K_M} {
		out := filepath.Join(dir, ft.String()+".gguf")
		require.NoError(t, llama.Quantize(src, out, ft, llama.WithQuantizeThreads(testThreads)))
		f, err := gguf.Open(out)
		require.NoError(t, err)
		for _, info := range f.Tensors() {
			data, err := f.TensorData(info.Name)
			require.NoError(t, err)
			want, err := llama.Dequantize(info.Type, data, int(info.Elements()))
			require.NoError(t, err)
			got, err := f.TensorFloat32(info.Name)
			require.NoError(t, err, "%s %v", info.Name, info.Type)
			require.Equal(t, want, got, "%s: %v", info.Name, info.Type)
			seen[info.Type] = true
		}
		require.NoError(t, f.Close())
	}
	for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16, gguf.TypeQ8_0, gguf.TypeQ4_0, gguf.TypeQ4_K, gguf.TypeQ6_K} {
		assert.True(t, seen[typ], "no %v tensor was compared", typ)
	}
	_, err := llama.Dequantize(gguf.TypeQ4_K, make([]byte, 10), 256)
	assert.Error(t, err, "too few bytes")
	_, err = llama.Dequantize(gguf.TypeQ4_K, make([]byte, 1000), 100)
	assert.Error(t, err, "not whole blocks")
}
