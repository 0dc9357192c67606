package main_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/examples/internal/cmdtest"
	"github.com/go-rlm/rlm/llama/gguf"
	"github.com/go-rlm/rlm/llama/llamatest"
)

// binary is the mkmodel executable TestMain builds.
var binary string

func TestMain(m *testing.M) { cmdtest.Main(m, &binary) }

// mkmodel runs the command and returns its exit status, stdout and stderr.
func mkmodel(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return cmdtest.Run(t, binary, args...)
}

func TestWritesModels(t *testing.T) {
	tests := []struct {
		args     []string
		layers   uint64
		embd     uint64
		weights  gguf.Type
		fileType gguf.FileType
	}{
		{[]string{"-layers", "4", "-embd", "64", "-heads", "4", "-kv-heads", "2", "-ff", "128", "-vocab", "byte", "-type", "f32", "-seed", "1"},
			4, 64, gguf.TypeF32, gguf.FileTypeAllF32},
		{[]string{"-layers", "2", "-embd", "32", "-heads", "2", "-kv-heads", "1", "-ff", "48", "-type", "f16"},
			2, 32, gguf.TypeF16, gguf.FileTypeMostlyF16},
		{nil, 4, 64, gguf.TypeF32, gguf.FileTypeAllF32},
		{[]string{"-type", "q8_0", "-seed", "2"}, 4, 64, gguf.TypeQ8_0, gguf.FileTypeMostlyQ8_0},
		{[]string{"-type", "q4_0"}, 4, 64, gguf.TypeQ4_0, gguf.FileTypeMostlyQ4_0},
		// K-quants need rows of 256: ffn_up (rows of n_embd) is Q4_K.
		{[]string{"-embd", "256", "-ff", "512", "-type", "q4_k_m"}, 4, 256, gguf.TypeQ4_K, gguf.FileTypeMostlyQ4_K_M},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "model.gguf")
			code, stdout, stderr := mkmodel(t, append(tt.args, "-o", out)...)
			require.Equal(t, 0, code, stderr)
			assert.Empty(t, stderr)
			assert.Contains(t, stdout, "wrote "+out)

			require.NoError(t, gguf.Validate(out))
			f, err := gguf.Open(out)
			require.NoError(t, err)
			defer f.Close()
			layers, err := f.Uint("qwen2.block_count")
			require.NoError(t, err)
			assert.Equal(t, tt.layers, layers)
			embd, err := f.Uint("qwen2.embedding_length")
			require.NoError(t, err)
			assert.Equal(t, tt.embd, embd)
			ft, err := f.FileType()
			require.NoError(t, err)
			assert.Equal(t, tt.fileType, ft)
			info, ok := f.Tensor("blk.0.ffn_up.weight")
			require.True(t, ok)
			assert.Equal(t, tt.weights, info.Type)
		})
	}
}

func TestSameSeedSameFile(t *testing.T) {
	dir := t.TempDir()
	read := func(name, seed string) []byte {
		path := filepath.Join(dir, name)
		code, _, stderr := mkmodel(t, "-seed", seed, "-o", path)
		require.Equal(t, 0, code, stderr)
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		return data
	}
	a, b, c := read("a.gguf", "5"), read("b.gguf", "5"), read("c.gguf", "6")
	assert.True(t, bytes.Equal(a, b))
	assert.False(t, bytes.Equal(a, c))
}

func TestBadFlags(t *testing.T) {
	tests := []struct {
		args    []string
		message string
	}{
		{[]string{"-bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"-layers", "x"}, `invalid value "x" for flag -layers`},
		{[]string{"-layers", "0"}, "-layers 0: must be positive"},
		{[]string{"-kv-heads", "-1"}, "-kv-heads -1: must be positive"},
		{[]string{"-vocab", "bpe"}, "-vocab bpe: only byte is supported"},
		{[]string{"-type", "q5_k"}, "-type q5_k: want f32, f16, bf16, q8_0, q4_0 or q4_k_m"},
		{[]string{"-shape", "qwen2.5-72b"}, `-shape qwen2.5-72b: llamatest: no shape "qwen2.5-72b"`},
		{[]string{"-tokenizer", filepath.Join("no", "such", "tokenizer.json")}, "no such file or directory"},
		{[]string{"-chat-template", filepath.Join("no", "such", "template.jinja")}, "no such file or directory"},
		{[]string{"-embd", "64", "-heads", "3"}, "does not split into 3 heads"},
		{[]string{"-heads", "4", "-kv-heads", "3"}, "3 key/value heads do not divide 4 heads"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"-o", filepath.Join("no", "such", "dir", "m.gguf")}, "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			dir := t.TempDir()
			args := tt.args
			if !strings.Contains(strings.Join(args, " "), "-o ") {
				args = append(args, "-o", filepath.Join(dir, "m.gguf"))
			} else {
				args = append([]string(nil), args...)
				args[len(args)-1] = filepath.Join(dir, args[len(args)-1])
			}
			code, stdout, stderr := mkmodel(t, args...)
			cmdtest.AssertFailed(t, "mkmodel", tt.message, code, stdout, stderr)
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Empty(t, entries, "nothing is left behind")
		})
	}
}

func TestHelp(t *testing.T) {
	code, _, stderr := mkmodel(t, "-h")
	assert.Equal(t, 0, code)
	for _, flag := range []string{"-shape", "-layers", "-embd", "-heads", "-kv-heads", "-ff", "-vocab", "-tokenizer", "-chat-template", "-type", "-seed", "-o"} {
		assert.Contains(t, stderr, flag+" ")
	}
}

// TestShapeAndTokenizer writes a model of Qwen2.5-0.5B's shape (one layer,
// and a narrower n_embd to keep the file small) with Qwen's real tokenizer:
// the vocabulary the converter writes, padded to the shape's 151,936 rows,
// with config.json's BOS from the shape.
func TestShapeAndTokenizer(t *testing.T) {
	tokenizer := llamatest.QwenTokenizer(t)
	out := filepath.Join(t.TempDir(), "qwen.gguf")
	code, stdout, stderr := mkmodel(t, "-shape", "qwen2.5-0.5b", "-layers", "1", "-embd", "112", "-type", "bf16", "-tokenizer", tokenizer, "-o", out)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "1 layers, n_embd 112, 14/2 heads, n_ff 4864, vocabulary 151936, bf16")
	require.NoError(t, gguf.Validate(out))
	f, err := gguf.Open(out)
	require.NoError(t, err)
	defer f.Close()
	tokens, err := f.Strings("tokenizer.ggml.tokens")
	require.NoError(t, err)
	assert.Len(t, tokens, 151936)
	assert.Equal(t, "<|im_end|>", tokens[151645])
	merges, err := f.Strings("tokenizer.ggml.merges")
	require.NoError(t, err)
	assert.Len(t, merges, 151387)
	for key, want := range map[string]uint64{"tokenizer.ggml.bos_token_id": 151643, "tokenizer.ggml.eos_token_id": 151645, "tokenizer.ggml.padding_token_id": 151643} {
		got, err := f.Uint(key)
		require.NoError(t, err)
		assert.Equal(t, want, got, key)
	}
	tmpl, err := f.String("tokenizer.chat_template")
	require.NoError(t, err)
	assert.Contains(t, tmpl, "<think>", "the tokenizer's own template (Qwen3's)")
	_, tied := f.Tensor("output.weight")
	assert.False(t, tied)

	// -chat-template replaces it; without -tokenizer the byte vocabulary is
	// padded to the shape's rows.
	tmplFile := filepath.Join(t.TempDir(), "t.jinja")
	require.NoError(t, os.WriteFile(tmplFile, []byte(llamatest.Qwen25ChatTemplate(t)), 0o644))
	out2 := filepath.Join(t.TempDir(), "wide.gguf")
	code, _, stderr = mkmodel(t, "-shape", "qwen2.5-0.5b", "-layers", "1", "-embd", "112", "-ff", "256", "-type", "f16", "-chat-template", tmplFile, "-o", out2)
	require.Equal(t, 0, code, stderr)
	g, err := gguf.Open(out2)
	require.NoError(t, err)
	defer g.Close()
	got, err := g.String("tokenizer.chat_template")
	require.NoError(t, err)
	assert.Equal(t, llamatest.Qwen25ChatTemplate(t), got)
	ff, err := g.Uint("qwen2.feed_forward_length")
	require.NoError(t, err)
	assert.Equal(t, uint64(256), ff, "-ff overrides the shape")
	tokens, err = g.Strings("tokenizer.ggml.tokens")
	require.NoError(t, err)
	assert.Equal(t, "[PAD151935]", tokens[151935])
}
