package llamatest

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/go-rlm/rlm/llama/gguf"
)

// Token ids of the byte vocabulary: the 256 byte tokens come first, token b
// standing for byte b, then three control tokens.
const (
	TokenEndOfText = 256 // <|endoftext|>: beginning of sequence and padding
	TokenIMStart   = 257 // <|im_start|>: starts a chat message
	TokenIMEnd     = 258 // <|im_end|>: ends a chat message; end of generation
	VocabSize      = 259
)

// ChatTemplate is the byte vocabulary's tokenizer.chat_template: ChatML, the
// format of Qwen2.5, which llama.cpp's template detection recognises as
// chatml (it contains <|im_start|>). Unlike Qwen2.5's it adds no default
// system message and no tool calls.
const ChatTemplate = `{%- for message in messages -%}
{{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
{{- '<|im_start|>assistant\n' -}}
{%- endif -%}`

// Token types of a GGUF vocabulary (llama.cpp's llama_token_type, gguf-py's
// TokenType).
const (
	TokenTypeNormal      int32 = 1 // a regular BPE entry
	TokenTypeControl     int32 = 3 // a special token (<|im_end|>); never produced from text unless special tokens are parsed
	TokenTypeUserDefined int32 = 4 // an added token that is not special (Qwen's <tool_call>); matched in text as a whole
	TokenTypeUnused      int32 = 5 // padding up to the embedding matrix's size ([PAD151665])
)

// NoToken marks a special token that a [Vocab] does not have.
const NoToken = -1

// Vocab is a tokenizer as a GGUF file stores it: the tokenizer.ggml.* keys
// and tokenizer.chat_template, in the form llama.cpp's converter
// (convert_hf_to_gguf.py) writes them. [ByteVocab] is the small vocabulary
// of generated models; [ReadHFVocab] converts a Hugging Face tokenizer.
type Vocab struct {
	Model  string   // tokenizer.ggml.model: "gpt2" for byte-level BPE
	Pre    string   // tokenizer.ggml.pre: the pre-tokenizer, "qwen2"
	Tokens []string // every entry, in id order, spelt in GPT-2's byte-to-unicode mapping
	Types  []int32  // the type of each entry (TokenTypeNormal, ...)
	Merges []string // BPE merges in rank order, "Ġ t"

	// Special token ids, or NoToken.
	BOS, EOS, PAD int
	AddBOS        bool // tokenizer.ggml.add_bos_token

	ChatTemplate string // tokenizer.chat_template; empty for none
}

// ByteVocab returns the vocabulary of generated models by default: GPT-2's
// byte-level BPE with no merges, token b for b below 256 being the byte b
// spelt in GPT-2's byte-to-unicode mapping, so text tokenizes to its bytes;
// then <|endoftext|> (beginning of sequence and padding), <|im_start|> and
// <|im_end|> (end of generation); and [ChatTemplate].
func ByteVocab() *Vocab {
	types := make([]int32, VocabSize)
	for i := range types {
		types[i] = TokenTypeNormal
		if i >= 256 {
			types[i] = TokenTypeControl
		}
	}
	return &Vocab{
		Model: "gpt2", Pre: "qwen2",
		Tokens: Tokens(), Types: types, Merges: []string{},
		BOS: TokenEndOfText, EOS: TokenIMEnd, PAD: TokenEndOfText,
		ChatTemplate: ChatTemplate,
	}
}

// Tokens returns the byte vocabulary's entries: the 256 byte tokens spelt in
// GPT-2's byte-to-unicode mapping (byte-level BPE, as Qwen2 uses), then
// <|endoftext|>, <|im_start|> and <|im_end|>.
func Tokens() []string {
	tokens := make([]string, 0, VocabSize)
	for b := range 256 {
		tokens = append(tokens, string(byteToRune(byte(b))))
	}
	return append(tokens, "<|endoftext|>", "<|im_start|>", "<|im_end|>")
}

// byteToRune is GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for
// themselves; the others (controls, space, and a few more) are moved to
// U+0100 onwards, in byte order, so that every token is printable.
func byteToRune(b byte) rune {
	if printable(b) {
		return rune(b)
	}
	n := 0
	for c := range int(b) {
		if !printable(byte(c)) {
			n++
		}
	}
	return rune(256 + n)
}

func printable(b byte) bool {
	return ('!' <= b && b <= '~') || (0xA1 <= b && b <= 0xAC) || (0xAE <= b && b <= 0xFF)
}

// Len returns the number of entries, which is the number of rows of the
// model's embedding and output matrices.
func (v *Vocab) Len() int { return len(v.Tokens) }

// Resize cuts the vocabulary to n entries or pads it to n with entries
// "[PADi]" of type TokenTypeUnused, as llama.cpp's converter pads a
// tokenizer to config.json's vocab_size (Qwen2.5-0.5B: 151,665 entries
// padded to 151,936). Special ids that no longer exist become NoToken.
// Qwen3's tokenizer cut to 151,665 entries and padded to 151,936 is
// Qwen2.5's vocabulary.
func (v *Vocab) Resize(n int) {
	if n < len(v.Tokens) {
		v.Tokens, v.Types = v.Tokens[:n:n], v.Types[:n:n]
		for _, id := range []*int{&v.BOS, &v.EOS, &v.PAD} {
			if *id >= n {
				*id = NoToken
			}
		}
		return
	}
	for i := len(v.Tokens); i < n; i++ {
		v.Tokens = append(v.Tokens, fmt.Sprintf("[PAD%d]", i))
		v.Types = append(v.Types, TokenTypeUnused)
	}
}

// Validate reports whether llama.cpp can load v: a tokenizer model, one
// type per token, special ids inside the vocabulary.
func (v *Vocab) Validate() error {
	switch {
	case v.Model == "":
		return fmt.Errorf("llamatest: vocabulary without a tokenizer model")
	case len(v.Tokens) == 0:
		return fmt.Errorf("llamatest: empty vocabulary")
	case len(v.Types) != len(v.Tokens):
		return fmt.Errorf("llamatest: %d token types for %d tokens", len(v.Types), len(v.Tokens))
	}
	for _, id := range []int{v.BOS, v.EOS, v.PAD} {
		if id != NoToken && (id < 0 || id >= len(v.Tokens)) {
			return fmt.Errorf("llamatest: special token %d outside the vocabulary [0, %d)", id, len(v.Tokens))
		}
	}
	return nil
}

// metadata returns the vocabulary's GGUF key-value pairs, in the order
// llama.cpp's converter writes them.
func (v *Vocab) metadata() []gguf.KeyValue {
	u32 := func(n int) gguf.Value { return gguf.ValueOf(uint32(n)) }
	merges := v.Merges
	if merges == nil {
		merges = []string{}
	}
	kvs := []gguf.KeyValue{
		{Key: "tokenizer.ggml.model", Value: gguf.ValueOf(v.Model)},
		{Key: "tokenizer.ggml.pre", Value: gguf.ValueOf(v.Pre)},
		{Key: "tokenizer.ggml.tokens", Value: gguf.ArrayOf(v.Tokens)},
		{Key: "tokenizer.ggml.token_type", Value: gguf.ArrayOf(v.Types)},
		{Key: "tokenizer.ggml.merges", Value: gguf.ArrayOf(merges)},
	}
	for _, s := range []struct {
		key string
		id  int
	}{{"tokenizer.ggml.eos_token_id", v.EOS}, {"tokenizer.ggml.padding_token_id", v.PAD}, {"tokenizer.ggml.bos_token_id", v.BOS}} {
		if s.id != NoToken {
			kvs = append(kvs, gguf.KeyValue{Key: s.key, Value: u32(s.id)})
		}
	}
	kvs = append(kvs, gguf.KeyValue{Key: "tokenizer.ggml.add_bos_token", Value: gguf.ValueOf(v.AddBOS)})
	if v.ChatTemplate != "" {
		kvs = append(kvs, gguf.KeyValue{Key: "tokenizer.chat_template", Value: gguf.ValueOf(v.ChatTemplate)})
	}
	return kvs
}

// digest identifies the vocabulary's contents, for the model cache.
func (v *Vocab) digest() string {
	h := sha256.New()
	put := func(s string) {
		h.Write(binary.AppendUvarint(nil, uint64(len(s))))
		h.Write([]byte(s))
	}
	put(v.Model)
	put(v.Pre)
	for _, list := range [][]string{v.Tokens, v.Merges, {v.ChatTemplate}} {
		put(fmt.Sprint(len(list)))
		for _, s := range list {
			put(s)
		}
	}
	binary.Write(h, binary.LittleEndian, v.Types)
	put(fmt.Sprint(v.BOS, v.EOS, v.PAD, v.AddBOS))
	return fmt.Sprintf("%x", h.Sum(nil)[:8])
}

// generated reports whether token id is an entry that a generated model
// may produce by chance: a regular one. The output rows of the others
// (control, user-defined, padding) are zero, so their logit is always 0,
// below the maximum of the regular ones.
func (v *Vocab) generated(id int) bool { return v.Types[id] == TokenTypeNormal }

// clone returns a deep copy of v.
func (v *Vocab) clone() *Vocab {
	c := *v
	c.Tokens, c.Types, c.Merges = slices.Clone(v.Tokens), slices.Clone(v.Types), slices.Clone(v.Merges)
	return &c
}
