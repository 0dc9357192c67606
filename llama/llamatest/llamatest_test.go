package llamatest_test

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/llama/gguf"
	"github.com/go-rlm/rlm/llama/llamatest"
)

func writeModel(t *testing.T, cfg llamatest.Config) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "model.gguf")
	require.NoError(t, llamatest.WriteModel(path, cfg))
	return path
}

// TestWriteModelLayout checks the metadata and the tensor shapes llama.cpp's
// Qwen2 loader asks for (llama-model.cpp, LLM_ARCH_QWEN2).
func TestWriteModelLayout(t *testing.T) {
	cfg := llamatest.Config{Layers: 3, Embd: 48, Heads: 6, KVHeads: 3, FF: 80, Seed: 7}
	path := writeModel(t, cfg)
	require.NoError(t, gguf.Validate(path))
	f, err := gguf.Open(path)
	require.NoError(t, err)
	defer f.Close()

	u32s := map[string]uint64{
		"qwen2.block_count":               3,
		"qwen2.embedding_length":          48,
		"qwen2.attention.head_count":      6,
		"qwen2.attention.head_count_kv":   3,
		"qwen2.feed_forward_length":       80,
		"qwen2.context_length":            4096,
		"general.file_type":               uint64(gguf.FileTypeAllF32),
		"tokenizer.ggml.eos_token_id":     llamatest.TokenIMEnd,
		"tokenizer.ggml.bos_token_id":     llamatest.TokenEndOfText,
		"tokenizer.ggml.padding_token_id": llamatest.TokenEndOfText,
	}
	for key, want := range u32s {
		v, ok := f.Value(key)
		require.True(t, ok, key)
		got, isU32 := gguf.As[uint32](v)
		require.True(t, isU32, "%s must be u32: llama.cpp reads it as uint32_t", key)
		assert.Equal(t, want, uint64(got), key)
	}
	for key, want := range map[string]string{
		"general.architecture":    "qwen2",
		"general.name":            "llamatest",
		"tokenizer.ggml.model":    "gpt2",
		"tokenizer.ggml.pre":      "qwen2",
		"tokenizer.chat_template": llamatest.ChatTemplate,
	} {
		got, err := f.String(key)
		require.NoError(t, err)
		assert.Equal(t, want, got, key)
	}
	for _, key := range []string{"qwen2.rope.freq_base", "qwen2.attention.layer_norm_rms_epsilon"} {
		v, ok := f.Value(key)
		require.True(t, ok, key)
		_, isF32 := gguf.As[float32](v)
		assert.True(t, isF32, "%s must be f32", key)
	}
	addBOS, err := f.Bool("tokenizer.ggml.add_bos_token")
	require.NoError(t, err)
	assert.False(t, addBOS)
	tokens, err := f.Strings("tokenizer.ggml.tokens")
	require.NoError(t, err)
	assert.Equal(t, llamatest.Tokens(), tokens)
	merges, err := f.Strings("tokenizer.ggml.merges")
	require.NoError(t, err)
	assert.Empty(t, merges)
	typesValue, err := f.Array("tokenizer.ggml.token_type")
	require.NoError(t, err)
	types, ok := gguf.ArrayValues[int32](typesValue)
	require.True(t, ok)
	require.Len(t, types, llamatest.VocabSize)
	assert.Equal(t, int32(1), types[0])
	assert.Equal(t, int32(1), types[255])
	assert.Equal(t, []int32{3, 3, 3}, types[256:])

	const embd, vocab, ff, kv = 48, llamatest.VocabSize, 80, 48 / 6 * 3
	want := map[string][]int64{
		"token_embd.weight":  {embd, vocab},
		"output_norm.weight": {embd},
		"output.weight":      {embd, vocab},
	}
	for i := range 3 {
		for name, shape := range map[string][]int64{
			"attn_norm.weight": {embd}, "attn_q.weight": {embd, embd}, "attn_q.bias": {embd},
			"attn_k.weight": {embd, kv}, "attn_k.bias": {kv}, "attn_v.weight": {embd, kv}, "attn_v.bias": {kv},
			"attn_output.weight": {embd, embd}, "ffn_norm.weight": {embd},
			"ffn_gate.weight": {embd, ff}, "ffn_up.weight": {embd, ff}, "ffn_down.weight": {ff, embd},
		} {
			want[fmt.Sprintf("blk.%d.%s", i, name)] = shape
		}
	}
	got := map[string][]int64{}
	for _, info := range f.Tensors() {
		got[info.Name] = info.Shape
		assert.Equal(t, gguf.TypeF32, info.Type, info.Name)
	}
	assert.Equal(t, want, got)
}

func TestWriteModelF16(t *testing.T) {
	f32Path := writeModel(t, llamatest.Config{Seed: 3})
	f16Path := writeModel(t, llamatest.Config{Seed: 3, Type: gguf.TypeF16})
	f32, err := gguf.Open(f32Path)
	require.NoError(t, err)
	defer f32.Close()
	f16, err := gguf.Open(f16Path)
	require.NoError(t, err)
	defer f16.Close()

	ft, err := f16.FileType()
	require.NoError(t, err)
	assert.Equal(t, gguf.FileTypeMostlyF16, ft)
	for _, info := range f16.Tensors() {
		want := gguf.TypeF16
		if len(info.Shape) == 1 {
			want = gguf.TypeF32
		}
		assert.Equal(t, want, info.Type, info.Name)
	}
	// The same seed draws the same weights, rounded to half precision.
	a, err := f32.TensorFloat32("blk.1.ffn_up.weight")
	require.NoError(t, err)
	b, err := f16.TensorFloat32("blk.1.ffn_up.weight")
	require.NoError(t, err)
	for i := range a {
		assert.Equal(t, gguf.Float16ToFloat32(gguf.Float32ToFloat16(a[i])), b[i])
	}
}

func TestWriteModelIsDeterministic(t *testing.T) {
	read := func(cfg llamatest.Config) []byte {
		data, err := os.ReadFile(writeModel(t, cfg))
		require.NoError(t, err)
		return data
	}
	a, b := read(llamatest.Config{Seed: 42}), read(llamatest.Config{Seed: 42})
	assert.True(t, bytes.Equal(a, b), "same config and seed, same bytes")
	c := read(llamatest.Config{Seed: 43})
	assert.Equal(t, len(a), len(c))
	assert.False(t, bytes.Equal(a, c), "another seed, other weights")
}

// std returns the standard deviation of xs around mean.
func std(xs []float32, mean float64) float64 {
	var s float64
	for _, x := range xs {
		s += (float64(x) - mean) * (float64(x) - mean)
	}
	return math.Sqrt(s / float64(len(xs)))
}

func mean(xs []float32) float64 {
	var s float64
	for _, x := range xs {
		s += float64(x)
	}
	return s / float64(len(xs))
}

// TestWeightScales checks the scales the generator documents, within the
// sampling error of the tensors' sizes.
func TestWeightScales(t *testing.T) {
	cfg := llamatest.Config{Layers: 8, Embd: 128, Heads: 4, KVHeads: 2, FF: 256, Seed: 1}
	f, err := gguf.Open(writeModel(t, cfg))
	require.NoError(t, err)
	defer f.Close()
	tests := []struct {
		name      string
		mean, std float64
	}{
		{"token_embd.weight", 0, 1},
		{"blk.0.attn_q.weight", 0, 1 / math.Sqrt(128)},
		{"blk.5.ffn_gate.weight", 0, 1 / math.Sqrt(128)},
		{"blk.2.attn_output.weight", 0, 1 / math.Sqrt(128) / math.Sqrt(16)},
		{"blk.7.ffn_down.weight", 0, 1 / math.Sqrt(256) / math.Sqrt(16)},
		{"blk.3.attn_norm.weight", 1, 0.1},
		{"blk.3.attn_k.bias", 0, 0.1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			values, err := f.TensorFloat32(tt.name)
			require.NoError(t, err)
			// The sample standard deviation of n normal draws is within 5/√(2n)
			// relative, and the mean within 5σ/√n, except with negligible
			// probability.
			n := float64(len(values))
			assert.InDelta(t, tt.mean, mean(values), 5*tt.std/math.Sqrt(n))
			assert.InEpsilon(t, tt.std, std(values, tt.mean), 5/math.Sqrt(2*n))
		})
	}
	output, err := f.TensorFloat32("output.weight")
	require.NoError(t, err)
	bytesRows := output[:128*256]
	assert.InEpsilon(t, 3/math.Sqrt(128), std(bytesRows, 0), 0.05)
	for i, x := range output[128*256:] {
		require.Zero(t, x, "control token rows are zero (element %d)", i)
	}
}

func TestTokens(t *testing.T) {
	tokens := llamatest.Tokens()
	require.Len(t, tokens, llamatest.VocabSize)
	seen := map[string]bool{}
	for i, tok := range tokens {
		assert.False(t, seen[tok], "token %d %q repeats", i, tok)
		seen[tok] = true
		if i < 256 {
			assert.Equal(t, 1, utf8.RuneCountInString(tok), "byte token %d is one character", i)
		}
	}
	// GPT-2's byte-to-unicode mapping: printable bytes stand for themselves,
	// the others move to U+0100 onwards in byte order.
	assert.Equal(t, "A", tokens['A'])
	assert.Equal(t, "!", tokens['!'])
	assert.Equal(t, "\u0100", tokens[0x00])
	assert.Equal(t, "\u010A", tokens['\n']) // Ċ
	assert.Equal(t, "\u0120", tokens[' '])  // Ġ
	assert.Equal(t, "\u0121", tokens[0x7F])
	assert.Equal(t, "\u0143", tokens[0xAD]) // Ń, the soft hyphen
	assert.Equal(t, "\u00FF", tokens[0xFF])
	assert.Equal(t, "<|endoftext|>", tokens[llamatest.TokenEndOfText])
	assert.Equal(t, "<|im_start|>", tokens[llamatest.TokenIMStart])
	assert.Equal(t, "<|im_end|>", tokens[llamatest.TokenIMEnd])
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg     llamatest.Config
		message string
	}{
		{llamatest.Config{Layers: -1}, "-1 layers"},
		{llamatest.Config{Layers: 600}, "600 layers"},
		{llamatest.Config{FF: -5}, "negative size"},
		{llamatest.Config{Embd: 60, Heads: 8}, "does not split into 8 heads"},
		{llamatest.Config{Embd: 36, Heads: 4}, "of an even size"},
		{llamatest.Config{Heads: 4, KVHeads: 3}, "3 key/value heads do not divide 4 heads"},
		{llamatest.Config{Type: gguf.TypeQ8_0}, "weight type Q8_0"},
	}
	for _, tt := range tests {
		t.Run(tt.message, func(t *testing.T) {
			err := tt.cfg.Validate()
			assert.ErrorContains(t, err, tt.message)
			path := filepath.Join(t.TempDir(), "m.gguf")
			assert.Error(t, llamatest.WriteModel(path, tt.cfg))
			assert.NoFileExists(t, path)
		})
	}
	assert.NoError(t, llamatest.Config{}.Validate())
	assert.Equal(t, llamatest.Config{Layers: 4, Embd: 64, Heads: 4, KVHeads: 2, FF: 128, Context: 4096, Name: "llamatest",
		RopeBase: 1e6, NormEps: 1e-6}, llamatest.DefaultConfig())
}

func TestModelCachesPerConfig(t *testing.T) {
	cfg := llamatest.Config{Layers: 1, Seed: 11}
	a := llamatest.Model(t, cfg)
	b := llamatest.Model(t, cfg)
	assert.Equal(t, a, b)
	assert.Equal(t, a, llamatest.Model(t, llamatest.Config{Layers: 1, Seed: 11, Embd: 64}), "defaults spelt out are the same config")
	c := llamatest.Model(t, llamatest.Config{Layers: 1, Seed: 12})
	assert.NotEqual(t, a, c)
	require.NoError(t, gguf.Validate(a))

	data, err := os.ReadFile(a)
	require.NoError(t, err)
	want, err := os.ReadFile(writeModel(t, cfg))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(want, data), "the cached file is the model WriteModel writes")
}

// TestShapes checks the Qwen2.5 presets against the published config.json
// figures they come from, through the parameter counts Qwen states.
func TestShapes(t *testing.T) {
	params := map[string]float64{ // billions, from the model cards
		"qwen2.5-0.5b": 0.49, "qwen2.5-1.5b": 1.54, "qwen2.5-3b": 3.09, "qwen2.5-7b": 7.61, "qwen2.5-14b": 14.7,
	}
	shapes := llamatest.Shapes()
	require.Len(t, shapes, len(params))
	for _, s := range shapes {
		kv := s.Embd / s.Heads * s.KVHeads
		perLayer := s.Embd*(s.Embd+2*kv) + s.Embd + 2*kv + s.Embd*s.Embd + 3*s.Embd*s.FF + 2*s.Embd
		n := s.Layers*perLayer + s.VocabSize*s.Embd + s.Embd
		if !s.TiedEmbeddings {
			n += s.VocabSize * s.Embd
		}
		assert.InEpsilon(t, params[s.Name], float64(n)/1e9, 0.01, s.Name)
		assert.Equal(t, 0, s.Embd%s.Heads, s.Name)
		got, err := llamatest.ShapeNamed(strings.ToUpper(s.Name))
		require.NoError(t, err)
		assert.Equal(t, s, got)
		assert.NoError(t, s.Config(nil).Validate())
	}
	_, err := llamatest.ShapeNamed("qwen2.5-72b")
	assert.ErrorContains(t, err, "known: qwen2.5-0.5b, qwen2.5-1.5b")
}

// TestShapeWithFewLayers writes a Qwen2.5-0.5B-wide model with one layer
// and the byte vocabulary padded to Qwen's 151,936 rows, tied embeddings
// (272 MB, kept in Model's cache between runs).
func TestShapeWithFewLayers(t *testing.T) {
	s, err := llamatest.ShapeNamed("qwen2.5-0.5b")
	require.NoError(t, err)
	cfg := s.Config(nil)
	cfg.Layers, cfg.Type = 1, gguf.TypeF16
	path := llamatest.Model(t, cfg)
	f, err := gguf.Open(path)
	require.NoError(t, err)
	defer f.Close()
	embd, _ := f.Tensor("token_embd.weight")
	assert.Equal(t, []int64{896, 151936}, embd.Shape)
	_, hasOutput := f.Tensor("output.weight")
	assert.False(t, hasOutput, "tied embeddings")
	tokens, err := f.Strings("tokenizer.ggml.tokens")
	require.NoError(t, err)
	assert.Equal(t, "[PAD259]", tokens[259])
	assert.Equal(t, "[PAD151935]", tokens[151935])
	for key, want := range map[string]uint64{"qwen2.block_count": 1, "qwen2.attention.head_count": 14, "qwen2.attention.head_count_kv": 2,
		"qwen2.feed_forward_length": 4864, "qwen2.context_length": 32768, "tokenizer.ggml.bos_token_id": llamatest.TokenEndOfText} {
		got, err := f.Uint(key)
		require.NoError(t, err)
		assert.Equal(t, want, got, key)
	}
	// The rows of the control and padding tokens are zero (read row by
	// row: the whole matrix is 136M values).
	data, err := f.TensorReader("token_embd.weight")
	require.NoError(t, err)
	row := func(id int) []float32 {
		b := make([]byte, 896*2)
		_, err := data.ReadAt(b, int64(id)*int64(len(b)))
		require.NoError(t, err)
		values := make([]float32, 896)
		require.NoError(t, gguf.Dequantize(values, gguf.TypeF16, b))
		return values
	}
	for _, id := range []int{llamatest.TokenIMEnd, 300, 151935} {
		for _, x := range row(id) {
			require.Zero(t, x, "row %d", id)
		}
	}
	assert.NotZero(t, row(65)[0])
}

func TestVocabResize(t *testing.T) {
	v := llamatest.ByteVocab()
	v.Resize(300)
	assert.Equal(t, 300, v.Len())
	assert.Equal(t, "[PAD299]", v.Tokens[299])
	assert.Equal(t, llamatest.TokenTypeUnused, v.Types[299])
	v.Resize(257)
	assert.Equal(t, 257, v.Len())
	assert.Equal(t, llamatest.NoToken, v.EOS, "<|im_end|> was cut")
	assert.Equal(t, llamatest.TokenEndOfText, v.BOS)
	assert.NoError(t, v.Validate())
	v.Types = v.Types[:10]
	assert.ErrorContains(t, v.Validate(), "10 token types for 257 tokens")
}
