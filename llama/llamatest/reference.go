package llamatest

import (
	_ "embed"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-rlm/rlm/internal/npmtest"
)

// Hugging Face's own JavaScript tokenizer and chat-template renderer: the
// references that tests check llama.cpp's tokenization and this module's
// chat rendering against. They are installed from npm at test time.
const (
	HFTokenizersPackage = "@huggingface/tokenizers@0.2.0"
	HFJinjaPackage      = "@huggingface/jinja@0.5.11"
)

var (
	//go:embed testdata/hf_tokenize.cjs
	hfTokenizeScript string
	//go:embed testdata/hf_render.cjs
	hfRenderScript string
)

// HFTokenize returns the token ids that Hugging Face's tokenizer
// ([HFTokenizersPackage]), loaded from tokenizerJSON and the
// tokenizer_config.json beside it, gives each text: added tokens spelt in a
// text are parsed, and no special token is added. It skips the test where
// node, npm or the registry is missing.
func HFTokenize(tb testing.TB, tokenizerJSON string, texts []string) [][]int {
	tb.Helper()
	modules := npmtest.Modules(tb, HFTokenizersPackage)
	in, err := json.Marshal(map[string]any{
		"tokenizer": tokenizerJSON,
		"config":    filepath.Join(filepath.Dir(tokenizerJSON), "tokenizer_config.json"),
		"texts":     texts,
	})
	if err != nil {
		tb.Fatal(err)
	}
	var out struct{ IDs [][]int }
	npmtest.Run(tb, modules, strings.NewReader(string(in)), &out, "-e", hfTokenizeScript)
	if len(out.IDs) != len(texts) {
		tb.Fatalf("llamatest: the reference tokenized %d texts of %d", len(out.IDs), len(texts))
	}
	for i, ids := range out.IDs {
		if ids == nil {
			out.IDs[i] = []int{}
		}
	}
	return out.IDs
}

// HFMessage is a message of an [HFChat].
type HFMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// HFChat is a conversation and the variables it is rendered with.
type HFChat struct {
	Messages            []HFMessage `json:"messages"`
	AddGenerationPrompt bool        `json:"add_generation_prompt"`
	BOS                 string      `json:"bos_token"`
	EOS                 string      `json:"eos_token"`
}

// HFRenderChat renders each chat with the chat template source by Hugging
// Face's Jinja renderer ([HFJinjaPackage]), with the variables
// transformers' apply_chat_template passes (tools and documents None). It
// skips the test where node, npm or the registry is missing.
func HFRenderChat(tb testing.TB, source string, chats []HFChat) []string {
	tb.Helper()
	modules := npmtest.Modules(tb, HFJinjaPackage)
	in, err := json.Marshal(map[string]any{"template": source, "cases": chats})
	if err != nil {
		tb.Fatal(err)
	}
	var out struct{ Renders []string }
	npmtest.Run(tb, modules, strings.NewReader(string(in)), &out, "-e", hfRenderScript)
	if len(out.Renders) != len(chats) {
		tb.Fatalf("llamatest: the reference rendered %d chats of %d", len(out.Renders), len(chats))
	}
	return out.Renders
}
