package llamatest_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/internal/crd3test"
	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/llama/gguf"
	"github.com/go-rlm/rlm/llama/llamatest"
)

// TestReadHFVocabQwen converts Qwen's tokenizer and checks the vocabulary
// llama.cpp's converter writes for it.
func TestReadHFVocabQwen(t *testing.T) {
	v, err := llamatest.ReadHFVocab(llamatest.QwenTokenizer(t))
	require.NoError(t, err)
	assert.Equal(t, "gpt2", v.Model)
	assert.Equal(t, "qwen2", v.Pre)
	require.Equal(t, 151643+26, v.Len(), "151,643 BPE entries and Qwen3's 26 added tokens")
	assert.Len(t, v.Merges, 151387)
	assert.Equal(t, "Ġ Ġ", v.Merges[0])
	counts := map[int32]int{}
	for _, typ := range v.Types {
		counts[typ]++
	}
	assert.Equal(t, map[int32]int{llamatest.TokenTypeNormal: 151643, llamatest.TokenTypeControl: 20, llamatest.TokenTypeUserDefined: 6}, counts)
	for id, want := range map[int]struct {
		token string
		typ   int32
	}{
		0:      {"!", llamatest.TokenTypeNormal},
		220:    {"Ġ", llamatest.TokenTypeNormal},
		151643: {"<|endoftext|>", llamatest.TokenTypeControl},
		151645: {"<|im_end|>", llamatest.TokenTypeControl},
		151657: {"<tool_call>", llamatest.TokenTypeUserDefined},
		151659: {"<|fim_prefix|>", llamatest.TokenTypeControl}, // not marked special, but looks it
		151667: {"<think>", llamatest.TokenTypeUserDefined},
	} {
		assert.Equal(t, want.token, v.Tokens[id], "token %d", id)
		assert.Equal(t, want.typ, v.Types[id], "type of %d", id)
	}
	assert.Equal(t, 151645, v.EOS)
	assert.Equal(t, 151643, v.PAD)
	assert.Equal(t, llamatest.NoToken, v.BOS, "bos_token is null and there is no config.json")
	assert.False(t, v.AddBOS)
	assert.Contains(t, v.ChatTemplate, "<think>", "Qwen3's template")
}

// TestQwen25Vocab converts Qwen2.5's own tokenizer files: its 22 added
// tokens, the padding to Qwen2.5-0.5B's 151,936 rows, and the chat template
// of its tokenizer_config.json, read here from the file itself.
func TestQwen25Vocab(t *testing.T) {
	q := llamatest.Qwen25Vocab(t)
	require.Equal(t, 151936, q.Len())
	assert.Len(t, q.Merges, 151387)
	counts := map[int32]int{}
	for _, typ := range q.Types {
		counts[typ]++
	}
	assert.Equal(t, map[int32]int{llamatest.TokenTypeNormal: 151643, llamatest.TokenTypeControl: 20,
		llamatest.TokenTypeUserDefined: 2, llamatest.TokenTypeUnused: 151936 - 151665}, counts)
	for id, want := range map[int]string{151643: "<|endoftext|>", 151644: "<|im_start|>", 151645: "<|im_end|>",
		151657: "<tool_call>", 151664: "<|file_sep|>"} {
		assert.Equal(t, want, q.Tokens[id], "token %d", id)
	}
	for id := 151665; id < 151936; id++ {
		require.Equal(t, "[PAD"+itoa(id)+"]", q.Tokens[id])
		require.Equal(t, llamatest.TokenTypeUnused, q.Types[id])
	}
	assert.Equal(t, 151643, q.BOS)
	assert.Equal(t, 151645, q.EOS)
	assert.Equal(t, 151643, q.PAD)
	assert.False(t, q.AddBOS)

	data, err := os.ReadFile(filepath.Join(filepath.Dir(llamatest.Qwen25Tokenizer(t)), "tokenizer_config.json"))
	require.NoError(t, err)
	var cfg struct {
		ChatTemplate string `json:"chat_template"`
	}
	require.NoError(t, json.Unmarshal(data, &cfg))
	assert.Equal(t, cfg.ChatTemplate, q.ChatTemplate)
	assert.Equal(t, cfg.ChatTemplate, llamatest.Qwen25ChatTemplate(t))
	assert.Contains(t, q.ChatTemplate, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.")
}

func itoa(n int) string { return strconv.Itoa(n) }

// qwenVocabModel loads, vocabulary only, a model whose vocabulary is
// converted from Qwen's tokenizer files, and returns it with the path of
// those files' tokenizer.json:
//
//   - "Qwen2.5": Qwen2.5's own files; the model is Qwen25Config's, which the
//     tests of other packages share;
//   - "Qwen3": Qwen3's files, with its 26 added tokens as they are, padded
//     to 151,936 entries, at a tiny width (token_embd is 151,936 × 64 in
//     F16, 19 MB).
func qwenVocabModel(t *testing.T, which string) (*llama.Model, string) {
	t.Helper()
	var path, tokenizer string
	switch which {
	case "Qwen2.5":
		tokenizer = llamatest.Qwen25Tokenizer(t)
		path = llamatest.Model(t, llamatest.Qwen25Config(t, 1))
	case "Qwen3":
		tokenizer = llamatest.QwenTokenizer(t)
		v, err := llamatest.ReadHFVocab(tokenizer)
		require.NoError(t, err)
		v.Resize(151936)
		path = llamatest.Model(t, llamatest.Config{Layers: 1, Type: gguf.TypeF16, TiedEmbeddings: true, Vocab: v})
	default:
		t.Fatalf("no tokenizer %q", which)
	}
	m, err := llama.LoadModel(context.Background(), path, llama.WithVocabOnly())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })
	return m, tokenizer
}

func llamaTokenize(t *testing.T, m *llama.Model, text string, parseSpecial bool) []int {
	t.Helper()
	toks, err := m.Tokenize(text, false, parseSpecial)
	require.NoError(t, err)
	ids := make([]int, len(toks))
	for i, tok := range toks {
		ids[i] = int(tok)
	}
	return ids
}

// TestTokenizerMatchesHuggingFace checks that llama.cpp, given the
// vocabulary converted from Qwen2.5's and from Qwen3's tokenizer files,
// tokenizes as Hugging Face's tokenizer does with those files: real
// transcript text and the Unicode cases where byte-level BPE goes wrong.
func TestTokenizerMatchesHuggingFace(t *testing.T) {
	episode := crd3test.Episode(t, 1)
	texts := map[string]string{
		"CJK":                     "日本語のテキスト、中文文本，한국어 텍스트。",
		"emoji with joiners":      "👩‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 👍🏽 thumbs, 🎲🐉",
		"precomposed marks":       "café naïve Ångström Zoë façade",
		"combining marks in NFC":  "ḍ̇ q̣̇ ṩ Vietnamese: Tiếng Việt",
		"CRLF":                    "Matt: Roll initiative.\r\nLaura: 17.\r\n\r\nTravis: Natural 20!",
		"runs of spaces":          "a  b   c    d\t\te \t \n  \n   f",
		"runs of digits":          "1 12 123 1234 12345 3.14159 2024-09-19 1,000,000",
		"contractions":            "I'm sure it's what you'd've done, WE'LL SEE, they're here",
		"code":                    "def f(x):\n    return x ** 2  # square\n\tprint(f'{x!r}')",
		"mixed scripts":           "Ελληνικά русский עברית العربية हिन्दी ไทย",
		"added tokens as text":    "call <tool_call> and </tool_call>, think <think>",
		"control tokens as text":  "<|im_start|>user\nHi<|im_end|>\n<|endoftext|>",
		"empty":                   "",
		"one space":               " ",
		"trailing newlines":       "end\n\n\n",
		"private use and symbols": "\ue000 ∑ ∫ ≠ ≤ → ⇒ ℝ ⁂ ※",
	}
	// A slice of the real transcripts: the first 16 KiB of episode 1 in
	// chunks cut at line ends, and one long chunk.
	for i, start := 0, 0; i < 4; i++ {
		end := start + 4096
		end += strings.IndexByte(episode[end:], '\n') + 1
		texts["transcript chunk "+itoa(i)] = episode[start:end]
		start = end
	}
	texts["transcript 64 KiB"] = episode[:64<<10]

	names := make([]string, 0, len(texts))
	inputs := make([]string, 0, len(texts))
	for name, text := range texts {
		names = append(names, name)
		inputs = append(inputs, text)
	}
	for _, which := range []string{"Qwen2.5", "Qwen3"} {
		t.Run(which, func(t *testing.T) {
			m, tokenizer := qwenVocabModel(t, which)
			want := llamatest.HFTokenize(t, tokenizer, inputs)
			for i, name := range names {
				t.Run(name, func(t *testing.T) {
					assert.Equal(t, want[i], llamaTokenize(t, m, inputs[i], true), "special tokens parsed")
					if !strings.Contains(inputs[i], "<|") {
						assert.Equal(t, want[i], llamaTokenize(t, m, inputs[i], false), "special tokens not parsed")
					}
				})
			}
		})
	}
}

// TestTokenizerDifferencesAreDocumented checks what llama.cpp does where it
// cannot do what Hugging Face's tokenizer does, as the package documents:
//
//   - Qwen's tokenizer normalizes text to NFC first; llama.cpp does not, so
//     text not in NFC (a letter followed by a combining mark that has a
//     precomposed form) tokenizes as the reference only once normalized.
//   - Text is a Go string and may hold invalid UTF-8, which the reference
//     cannot take: llama.cpp reads every byte that does not start a valid
//     sequence as U+FFFD, the replacement character, as utf8.DecodeRune does.
//   - Control tokens spelt in text become their tokens only when special
//     tokens are parsed; otherwise they are text, and decode back to it.
func TestTokenizerDifferencesAreDocumented(t *testing.T) {
	m, tokenizer := qwenVocabModel(t, "Qwen2.5")
	const decomposed, composed = "cafe\u0301 Zoe\u0308 A\u030angstro\u0308m", "café Zoë Ångström"
	invalid := "ok \xff\xfe then \xe4\xb8 cut, a lone \x80, done \xf0\x9f\x8e"
	replaced := ""
	for rest := invalid; rest != ""; {
		r, size := utf8.DecodeRuneInString(rest)
		replaced += string(r) // RuneError for an invalid byte, size 1
		rest = rest[size:]
	}
	const markup = "<|im_start|>user\nHi<|im_end|>\n"
	want := llamatest.HFTokenize(t, tokenizer, []string{decomposed, composed, replaced, markup})

	assert.Equal(t, want[1], want[0], "the reference normalizes to NFC")
	assert.Equal(t, want[0], llamaTokenize(t, m, composed, false), "llama.cpp on the NFC text")
	assert.NotEqual(t, want[0], llamaTokenize(t, m, decomposed, false), "llama.cpp does not normalize")

	assert.Equal(t, want[2], llamaTokenize(t, m, invalid, false), "invalid bytes read as U+FFFD")

	assert.Equal(t, want[3], llamaTokenize(t, m, markup, true))
	plain := llamaTokenize(t, m, markup, false)
	for _, id := range plain {
		assert.Less(t, id, 151643, "no special token when they are not parsed")
	}
	toks := make([]llama.Token, len(plain))
	for i, id := range plain {
		toks[i] = llama.Token(id)
	}
	text, err := m.Detokenize(toks, false, false)
	require.NoError(t, err)
	assert.Equal(t, markup, text)
}
