package llama_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/llama/gguf"
	"github.com/go-rlm/rlm/llama/llamatest"
)

func TestModelInfo(t *testing.T) {
	cfg := llamatest.DefaultConfig()
	m := tinyModel(t)
	info, err := m.Info()
	require.NoError(t, err)
	assert.Equal(t, "qwen2", info.Architecture)
	assert.Equal(t, cfg.Layers, info.Layers)
	assert.Equal(t, cfg.Embd, info.EmbeddingSize)
	assert.Equal(t, cfg.Heads, info.Heads)
	assert.Equal(t, cfg.KVHeads, info.KVHeads)
	assert.Equal(t, 259, info.VocabSize, "256 bytes and 3 control tokens")
	assert.Positive(t, info.TrainContext)
	assert.Equal(t, "ALL_F32", info.FileType)
	assert.True(t, info.HasChatTemplate)

	// Parameters: embeddings and output (V×E each), the final norm, and per
	// layer the norms, the projections with their biases and the MLP.
	E, KV, FF, V := cfg.Embd, cfg.KVHeads*(cfg.Embd/cfg.Heads), cfg.FF, info.VocabSize
	perLayer := 2*E + E*E + E + 2*(KV*E+KV) + E*E + 3*E*FF
	assert.EqualValues(t, 2*V*E+E+cfg.Layers*perLayer, info.Params)
	assert.EqualValues(t, 4*info.Params, info.SizeBytes, "F32 weights")

	arch, err := m.Meta("general.architecture")
	assert.NoError(t, err)
	assert.Equal(t, "qwen2", arch)
	blocks, err := m.Meta("qwen2.block_count")
	assert.NoError(t, err)
	assert.Equal(t, strconv.Itoa(cfg.Layers), blocks)
	_, err = m.Meta("no.such.key")
	assert.ErrorIs(t, err, llama.ErrNoMetadata)
	keys, err := m.MetaKeys()
	assert.NoError(t, err)
	assert.Contains(t, keys, "qwen2.embedding_length")
	tmpl, err := m.ChatTemplate()
	assert.NoError(t, err)
	assert.Contains(t, tmpl, "<|im_start|>")
}

func TestTokenizeRoundTrip(t *testing.T) {
	m := tinyModel(t)
	for _, text := range []string{
		"Hello, world!",
		"Critical Role: roll for initiative.\n\tTabs and  spaces",
		"naïve café, Straße, ÆØÅ",
		"数学 и русский, 😀🎲",
		"",
	} {
		toks, err := m.Tokenize(text, true, false)
		require.NoError(t, err)
		assert.Len(t, toks, len(text), "a byte-level vocabulary without merges has one token per byte: %q", text)
		back, err := m.Detokenize(toks, false, false)
		require.NoError(t, err)
		assert.Equal(t, text, back)
	}
}

func TestTokenizeSpecial(t *testing.T) {
	m := tinyModel(t)
	special, err := m.SpecialTokens()
	require.NoError(t, err)
	assert.Equal(t, llama.Token(256), special.BOS, "<|endoftext|>")
	assert.Equal(t, llama.Token(258), special.EOS, "<|im_end|>")
	assert.False(t, special.AddBOS)
	assert.True(t, isEOG(t, m, special.EOS))
	assert.False(t, isEOG(t, m, 'a'))
	assert.False(t, isEOG(t, m, 100000), "outside the vocabulary")

	text := "<|im_start|>user"
	parsed, err := m.Tokenize(text, false, true)
	require.NoError(t, err)
	assert.Equal(t, []llama.Token{257, 'u', 's', 'e', 'r'}, parsed)
	literal, err := m.Tokenize(text, false, false)
	require.NoError(t, err)
	assert.Len(t, literal, len(text), "without parseSpecial the marker is plain text")

	rendered, err := m.Detokenize(parsed, false, true)
	require.NoError(t, err)
	assert.Equal(t, text, rendered)
	hidden, err := m.Detokenize(parsed, false, false)
	require.NoError(t, err)
	assert.Equal(t, "user", hidden, "control tokens are not rendered unless asked")

	piece, err := m.TokenPiece(257, true)
	require.NoError(t, err)
	assert.Equal(t, "<|im_start|>", piece)
	piece, err = m.TokenPiece('H', false)
	require.NoError(t, err)
	assert.Equal(t, "H", piece)
}

func TestTokenPiecesSplitUTF8(t *testing.T) {
	// é is two byte tokens; each piece alone is half a character, as
	// llama.cpp returns it, and the pieces join back to the character.
	m := tinyModel(t)
	toks, err := m.Tokenize("é", false, false)
	require.NoError(t, err)
	require.Len(t, toks, 2)
	first, err := m.TokenPiece(toks[0], false)
	require.NoError(t, err)
	second, err := m.TokenPiece(toks[1], false)
	require.NoError(t, err)
	assert.Equal(t, "\xc3", first)
	assert.Equal(t, "é", first+second)
	_, err = m.Detokenize([]llama.Token{-1}, false, false)
	assert.Error(t, err, "ids outside the vocabulary are refused, not passed to llama.cpp")
}

func TestApplyChatTemplate(t *testing.T) {
	m := tinyModel(t)
	msgs := []llama.ChatMessage{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Count the rolls."}}
	got, err := m.ApplyChatTemplate(msgs, true)
	require.NoError(t, err)
	assert.Equal(t, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nCount the rolls.<|im_end|>\n<|im_start|>assistant\n", got)
	got, err = m.ApplyChatTemplate(msgs[1:], false)
	require.NoError(t, err)
	assert.Equal(t, "<|im_start|>user\nCount the rolls.<|im_end|>\n", got)
}

func TestChatTemplateMissing(t *testing.T) {
	path := withoutKey(t, llamatest.Model(t, llamatest.DefaultConfig()), "tokenizer.chat_template")
	m := loadModel(t, path)
	_, err := m.ApplyChatTemplate([]llama.ChatMessage{{Role: "user", Content: "hi"}}, true)
	require.ErrorIs(t, err, llama.ErrNoChatTemplate)

	explicit := loadModel(t, path, llama.WithChatTemplate(llama.ChatML))
	got, err := explicit.ApplyChatTemplate([]llama.ChatMessage{{Role: "user", Content: "hi"}}, true)
	require.NoError(t, err)
	assert.Equal(t, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", got)
}

func TestVocabOnly(t *testing.T) {
	m := loadModel(t, llamatest.Model(t, llamatest.DefaultConfig()), llama.WithVocabOnly())
	toks, err := m.Tokenize("abc", false, false)
	require.NoError(t, err)
	assert.Len(t, toks, 3)
	_, err = m.NewContext()
	assert.Error(t, err, "a vocabulary-only model cannot make contexts")
}

// TestBadFiles feeds LoadModel files that would make llama.cpp abort the
// process; each must come back as an error, and the test process lives on.
func TestBadFiles(t *testing.T) {
	good, err := os.ReadFile(llamatest.Model(t, llamatest.DefaultConfig()))
	require.NoError(t, err)
	le := func(n uint64) []byte {
		b := make([]byte, 8)
		for i := range b {
			b[i] = byte(n >> (8 * i))
		}
		return b
	}
	header := func(version uint32, tensors, kvs uint64) []byte {
		b := []byte("GGUF")
		b = append(b, le(uint64(version))[:4]...)
		b = append(b, le(tensors)...)
		return append(b, le(kvs)...)
	}
	dir := t.TempDir()
	tests := []struct {
		name string
		data []byte // nil: the path is not a regular file
		path string
		want error
	}{
		{name: "empty", data: []byte{}, want: gguf.ErrNotGGUF},
		{name: "magic only", data: []byte("GGUF"), want: gguf.ErrTruncated},
		{name: "truncated header", data: good[:20], want: gguf.ErrTruncated},
		{name: "truncated half", data: good[:len(good)/2], want: gguf.ErrTruncated},
		{name: "truncated end", data: good[:len(good)-1], want: gguf.ErrTruncated},
		{name: "wrong magic", data: append([]byte("GGML"), good[4:]...), want: gguf.ErrNotGGUF},
		{name: "bad version", data: append(header(99, 0, 0), good[24:]...), want: gguf.ErrVersion},
		{name: "absurd tensor count", data: append(header(3, 1<<62, 1), good[24:]...), want: gguf.ErrCorrupt},
		{name: "absurd kv count", data: append(header(3, 1, 1<<62), good[24:]...), want: gguf.ErrCorrupt},
		{name: "absurd key length", data: append(append(header(3, 1, 1), le(1<<60)...), good[32:]...), want: gguf.ErrCorrupt},
		{name: "directory", path: dir, want: gguf.ErrNotGGUF},
		{name: "missing", path: filepath.Join(dir, "no-such-model.gguf"), want: os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if tt.data != nil {
				path = filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".gguf")
				require.NoError(t, os.WriteFile(path, tt.data, 0o644))
			}
			m, err := llama.LoadModel(context.Background(), path)
			require.Error(t, err)
			assert.Nil(t, m)
			assert.ErrorIs(t, err, tt.want)
			if tt.name != "missing" && tt.name != "directory" {
				assert.Contains(t, err.Error(), path, "the error names the file")
			}
			// The same checks guard Quantize, which reads the file too.
			err = llama.Quantize(path, filepath.Join(dir, "out.gguf"), llama.FileTypeQ8_0)
			assert.ErrorIs(t, err, tt.want)
		})
	}
}

func TestLoadCancel(t *testing.T) {
	path := llamatest.Model(t, llamatest.DefaultConfig())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := llama.LoadModel(ctx, path)
	assert.ErrorIs(t, err, context.Canceled)

	var calls int
	_, err = llama.LoadModel(context.Background(), path, llama.WithProgress(func(float32) bool {
		calls++
		return false
	}))
	assert.ErrorIs(t, err, context.Canceled, "a progress callback that returns false cancels")
	assert.Positive(t, calls)

	var last float32
	m := loadModel(t, path, llama.WithProgress(func(f float32) bool { last = f; return true }))
	assert.NotNil(t, m)
	assert.Equal(t, float32(1), last)
}

func TestSplitModel(t *testing.T) {
	whole := tinyModel(t)
	parts := splitModel(t, llamatest.Model(t, llamatest.DefaultConfig()), 3)
	require.Len(t, parts, 3)
	split := loadModel(t, parts[0])

	wi, err := whole.Info()
	require.NoError(t, err)
	si, err := split.Info()
	require.NoError(t, err)
	assert.Equal(t, wi.Params, si.Params)

	toks, err := whole.Tokenize("The party rolls initiative", false, false)
	require.NoError(t, err)
	a := lastLogits(t, newContext(t, whole), toks)
	b := lastLogits(t, newContext(t, split), toks)
	assert.Zero(t, maxAbsDiff(a, b), "the split model holds the same weights")

	require.NoError(t, os.Remove(parts[2]))
	_, err = llama.LoadModel(context.Background(), parts[0])
	assert.ErrorIs(t, err, os.ErrNotExist, "a missing part is caught before llama.cpp")
}

func TestQuantizedModels(t *testing.T) {
	cfg := llamatest.DefaultConfig()
	cfg.Embd, cfg.FF = 256, 512 // K-quants need rows that are multiples of 256
	src := llamatest.Model(t, cfg)
	dir := t.TempDir()
	for _, ft := range []llama.FileType{llama.FileTypeF16, llama.FileTypeQ8_0, llama.FileTypeQ4_0, llama.FileTypeQ4_K_M} {
		t.Run(ft.String(), func(t *testing.T) {
			out := filepath.Join(dir, ft.String()+".gguf")
			require.NoError(t, llama.Quantize(src, out, ft, llama.WithQuantizeThreads(testThreads)))
			m := loadModel(t, out)
			info, err := m.Info()
			require.NoError(t, err)
			assert.Equal(t, ft.String(), info.FileType)
			c := newContext(t, m)
			gen, err := c.Generate(context.Background(), llama.Text("Roll a d20"), llama.WithMaxTokens(8))
			require.NoError(t, err)
			assert.Len(t, gen.Tokens, 8)
		})
	}
	err := llama.Quantize(src, filepath.Join(dir, "no-such-dir", "x.gguf"), llama.FileTypeQ8_0)
	assert.Error(t, err)
}

func TestDevices(t *testing.T) {
	devs := llama.Devices()
	require.NotEmpty(t, devs)
	kinds := map[llama.DeviceKind]bool{}
	for _, d := range devs {
		kinds[d.Kind] = true
		assert.NotEmpty(t, d.Name)
	}
	assert.True(t, kinds[llama.DeviceCPU], "the CPU backend is linked in")
	assert.Error(t, llama.LoadBackend(filepath.Join(t.TempDir(), "libggml-nothing.so")))
	notLib := filepath.Join(t.TempDir(), "libggml-fake.so")
	require.NoError(t, os.WriteFile(notLib, []byte("not a library"), 0o644))
	assert.Error(t, llama.LoadBackend(notLib))

	_, err := llama.LoadModel(context.Background(), llamatest.Model(t, llamatest.DefaultConfig()), llama.WithDevices("CUDA7"))
	assert.ErrorContains(t, err, "no device")
}

func TestLogger(t *testing.T) {
	var buf strings.Builder
	llama.SetLogger(slogTo(&buf))
	defer llama.SetLogger(nil)
	m := tinyModel(t)
	assert.NotNil(t, m)
	assert.Contains(t, buf.String(), "source=llama.cpp")
	assert.Contains(t, buf.String(), "qwen2", "llama.cpp logs the architecture while loading")

	// A failure's explanation from llama.cpp's log ends up in the error even
	// with logging off: here, a position gap llama.cpp refuses.
	llama.SetLogger(nil)
	c := newContext(t, m)
	require.NoError(t, c.Prefill(context.Background(), []llama.Token{'a', 'b'}, 0, 0))
	var b llama.Batch
	b.Add('c', 7, 0, true)
	err := c.Decode(context.Background(), &b)
	var lerr *llama.Error
	require.True(t, errors.As(err, &lerr), "%v", err)
	assert.Equal(t, -1, lerr.Code)
	assert.Contains(t, lerr.Detail, "inconsistent sequence positions")
}

func TestBuiltForThisCPU(t *testing.T) {
	if os.Getenv("CGO_CFLAGS") == "" {
		t.Skip("CGO_CFLAGS is unset: llama.cpp was built with cgo's defaults (build with make)")
	}
	assert.Empty(t, llama.MissingCPUFeatures(), "CGO_CFLAGS=%q", os.Getenv("CGO_CFLAGS"))
}
