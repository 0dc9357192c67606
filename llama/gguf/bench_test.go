package gguf_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/llama/gguf"
)

// BenchmarkDequantize decodes 1 Mi elements of each type; bytes/s counts the
// float32 output.
func BenchmarkDequantize(b *testing.B) {
	const n = 1 << 20
	for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16, gguf.TypeQ8_0, gguf.TypeQ4_0, gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K} {
		b.Run(typ.String(), func(b *testing.B) {
			src := make([]byte, n/typ.BlockSize()*typ.BlockBytes())
			for i := range src {
				src[i] = byte(i * 7)
			}
			// Keep the half-precision scales finite: 0x3C00 is 1.0.
			if typ.Quantized() {
				for blk := 0; blk < len(src); blk += int(typ.BlockBytes()) {
					src[blk], src[blk+1] = 0x00, 0x3C
				}
			}
			dst := make([]float32, n)
			b.SetBytes(4 * n)
			for b.Loop() {
				if err := gguf.Dequantize(dst, typ, src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpen parses a file with a Qwen2.5-sized vocabulary (151,665
// tokens and as many merges), the bulk of a real model's header.
func BenchmarkOpen(b *testing.B) {
	const vocab = 151665
	tokens, merges := make([]string, vocab), make([]string, vocab)
	types := make([]int32, vocab)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("tok%d", i)
		merges[i] = fmt.Sprintf("t o%d", i)
		types[i] = 1
	}
	path := filepath.Join(b.TempDir(), "vocab.gguf")
	w, err := gguf.Create(path)
	require.NoError(b, err)
	w.Set("tokenizer.ggml.tokens", gguf.ArrayOf(tokens))
	w.Set("tokenizer.ggml.merges", gguf.ArrayOf(merges))
	w.Set("tokenizer.ggml.token_type", gguf.ArrayOf(types))
	for i := range 300 {
		w.AddFloat32(fmt.Sprintf("blk.%d.weight", i), []int64{32}, gguf.TypeF32, make([]float32, 32))
	}
	require.NoError(b, w.Close())
	for b.Loop() {
		f, err := gguf.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}
