package interp

import (
	"fmt"

	"github.com/go-rlm/rlm/llama"
)

// Tokenize turns texts into prompts for the runs of this package, as the
// model tokenizes a prompt: with its beginning-of-sequence token if it adds
// one, and control tokens such as "<|im_start|>" parsed. It is for prompts
// the researcher writes; a document or a model's output belongs in a
// message of llama.Model.TokenizeChat, where it stays text.
func Tokenize(m *llama.Model, texts ...string) ([][]llama.Token, error) {
	out := make([][]llama.Token, len(texts))
	for i, t := range texts {
		toks, err := m.Tokenize(t, true, true)
		if err != nil {
			return nil, fmt.Errorf("interp: tokenize prompt %d: %w", i, err)
		}
		out[i] = toks
	}
	return out, nil
}
