package llamatest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Qwen2PreTokenizer is the regular expression of Qwen2's pre-tokenizer (a
// Split of tokenizer.json's pre_tokenizer), which llama.cpp knows as
// tokenizer.ggml.pre = "qwen2". Qwen2, Qwen2.5 and Qwen3 share it.
const Qwen2PreTokenizer = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// ReadHFVocab converts a Hugging Face tokenizer (tokenizer.json, a
// byte-level BPE) into the GGUF vocabulary that llama.cpp's converter
// (convert_hf_to_gguf.py, _set_vocab_gpt2 and gguf-py's SpecialVocab)
// writes for it:
//
//   - every entry of the BPE vocabulary and of added_tokens, in id order;
//     an added token is of type control when it is marked special or looks
//     special (<|...|>), else user-defined; the rest are normal;
//   - the merges in rank order, each pair joined by a space;
//   - tokenizer.ggml.pre named after the pre-tokenizer's regular expression
//     (only Qwen2's, "qwen2", is known here);
//   - from tokenizer_config.json beside it, when present: the special tokens
//     that bos_token, eos_token and pad_token name, add_bos_token and the
//     chat template;
//   - from config.json beside it, when present: bos_token_id, eos_token_id
//     and pad_token_id for the special tokens tokenizer_config.json leaves
//     unset, and vocab_size, to which the vocabulary is padded with [PADi]
//     entries of type unused (see [Vocab.Resize]).
//
// The tokenizer's normalizer (Qwen's NFC) is not part of a GGUF vocabulary:
// llama.cpp does not apply it.
func ReadHFVocab(tokenizerJSON string) (*Vocab, error) {
	data, err := os.ReadFile(tokenizerJSON)
	if err != nil {
		return nil, fmt.Errorf("llamatest: read tokenizer: %w", err)
	}
	v, err := parseHFTokenizer(data)
	if err != nil {
		return nil, fmt.Errorf("llamatest: %s: %w", tokenizerJSON, err)
	}
	dir := filepath.Dir(tokenizerJSON)
	added := map[string]int{}
	for id := len(v.Tokens) - 1; id >= 0; id-- {
		if v.Types[id] != TokenTypeNormal {
			added[v.Tokens[id]] = id
		}
	}
	cfgPath := filepath.Join(dir, "tokenizer_config.json")
	if err := applyTokenizerConfig(v, cfgPath, added); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("llamatest: %s: %w", cfgPath, err)
	}
	modelPath := filepath.Join(dir, "config.json")
	if err := applyModelConfig(v, modelPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("llamatest: %s: %w", modelPath, err)
	}
	return v, v.Validate()
}

// hfTokenizer is the part of tokenizer.json the conversion reads.
type hfTokenizer struct {
	AddedTokens []struct {
		ID      int    `json:"id"`
		Content string `json:"content"`
		Special bool   `json:"special"`
	} `json:"added_tokens"`
	PreTokenizer json.RawMessage `json:"pre_tokenizer"`
	Model        struct {
		Type   string            `json:"type"`
		Vocab  map[string]int    `json:"vocab"`
		Merges []json.RawMessage `json:"merges"` // "a b", or ["a", "b"] in newer files
	} `json:"model"`
}

func parseHFTokenizer(data []byte) (*Vocab, error) {
	var t hfTokenizer
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("not a tokenizer.json: %w", err)
	}
	if t.Model.Type != "BPE" {
		return nil, fmt.Errorf("tokenizer model %q: only BPE (byte-level, as Qwen's) is converted", t.Model.Type)
	}
	pre, err := preTokenizerName(t.PreTokenizer)
	if err != nil {
		return nil, err
	}
	size := 0
	for _, id := range t.Model.Vocab {
		size = max(size, id+1)
	}
	for _, a := range t.AddedTokens {
		size = max(size, a.ID+1)
	}
	if size == 0 || size > 1<<24 {
		return nil, fmt.Errorf("vocabulary of %d entries", size)
	}
	v := &Vocab{Model: "gpt2", Pre: pre, Tokens: make([]string, size), Types: make([]int32, size),
		BOS: NoToken, EOS: NoToken, PAD: NoToken}
	set := make([]bool, size)
	put := func(id int, tok string, typ int32) error {
		if id < 0 {
			return fmt.Errorf("token %q has id %d", tok, id)
		}
		v.Tokens[id], v.Types[id], set[id] = tok, typ, true
		return nil
	}
	for tok, id := range t.Model.Vocab {
		if err := put(id, tok, TokenTypeNormal); err != nil {
			return nil, err
		}
	}
	for _, a := range t.AddedTokens {
		typ := TokenTypeUserDefined
		if a.Special || looksSpecial(a.Content) {
			typ = TokenTypeControl
		}
		if err := put(a.ID, a.Content, typ); err != nil {
			return nil, err
		}
	}
	// The converter pads ids that no entry has, as it pads past the end.
	for id, ok := range set {
		if !ok {
			v.Tokens[id], v.Types[id] = fmt.Sprintf("[PAD%d]", id), TokenTypeUnused
		}
	}
	v.Merges = make([]string, len(t.Model.Merges))
	for i, raw := range t.Model.Merges {
		var merge string
		if json.Unmarshal(raw, &merge) != nil {
			var pair []string
			if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
				return nil, fmt.Errorf("merge %d is %s, want \"a b\" or [\"a\", \"b\"]", i, raw)
			}
			merge = pair[0] + " " + pair[1]
		}
		v.Merges[i] = merge
	}
	return v, nil
}

// preTokenizerName names the pre-tokenizer for tokenizer.ggml.pre. The
// converter recognises a pre-tokenizer by hashing how it splits a test text;
// here the regular expression of the Split step identifies it.
func preTokenizerName(raw json.RawMessage) (string, error) {
	var pre struct {
		Type          string `json:"type"`
		Pretokenizers []struct {
			Type    string `json:"type"`
			Pattern struct {
				Regex string `json:"Regex"`
			} `json:"pattern"`
		} `json:"pretokenizers"`
	}
	if err := json.Unmarshal(raw, &pre); err != nil {
		return "", fmt.Errorf("pre_tokenizer: %w", err)
	}
	for _, p := range pre.Pretokenizers {
		if p.Type == "Split" && p.Pattern.Regex == Qwen2PreTokenizer {
			return "qwen2", nil
		}
	}
	return "", fmt.Errorf("pre_tokenizer %.200s: only Qwen2's is known here", raw)
}

// looksSpecial is the converter's does_token_look_special for the tokens
// Qwen's tokenizers have: <|...|> and <｜...｜>.
func looksSpecial(tok string) bool {
	return strings.HasPrefix(tok, "<|") && strings.HasSuffix(tok, "|>") ||
		strings.HasPrefix(tok, "<｜") && strings.HasSuffix(tok, "｜>")
}

// applyTokenizerConfig reads tokenizer_config.json's special tokens,
// add_bos_token and chat template into v.
func applyTokenizerConfig(v *Vocab, path string, added map[string]int) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(data, &cfg); err != nil {
		return err
	}
	for _, s := range []struct {
		key string
		id  *int
	}{{"bos_token", &v.BOS}, {"eos_token", &v.EOS}, {"pad_token", &v.PAD}} {
		name, err := tokenName(cfg[s.key])
		if err != nil {
			return fmt.Errorf("%s: %w", s.key, err)
		}
		if name == "" {
			continue
		}
		id, ok := added[name]
		if !ok {
			return fmt.Errorf("%s %q is not an added token of tokenizer.json", s.key, name)
		}
		*s.id = id
	}
	if raw, ok := cfg["add_bos_token"]; ok {
		if err := json.Unmarshal(raw, &v.AddBOS); err != nil {
			return fmt.Errorf("add_bos_token: %w", err)
		}
	}
	if raw, ok := cfg["chat_template"]; ok {
		tmpl, err := chatTemplate(raw)
		if err != nil {
			return fmt.Errorf("chat_template: %w", err)
		}
		v.ChatTemplate = tmpl
	}
	return nil
}

// tokenName reads a special token entry: null, a string, or an AddedToken
// object with its content.
func tokenName(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var obj struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", err
	}
	return obj.Content, nil
}

// chatTemplate reads a chat template: a string, or a list of named
// templates of which the converter keeps "default".
func chatTemplate(raw json.RawMessage) (string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	type namedTemplate struct {
		Name     string `json:"name"`
		Template string `json:"template"`
	}
	var named []namedTemplate
	if err := json.Unmarshal(raw, &named); err != nil {
		return "", err
	}
	i := slices.IndexFunc(named, func(n namedTemplate) bool { return n.Name == "default" })
	if i < 0 {
		return "", errors.New("no template named default")
	}
	return named[i].Template, nil
}

// applyModelConfig reads config.json's special token ids, for those still
// unset, and pads the vocabulary to its vocab_size.
func applyModelConfig(v *Vocab, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var cfg struct {
		VocabSize int  `json:"vocab_size"`
		BOS       *int `json:"bos_token_id"`
		EOS       *int `json:"eos_token_id"`
		PAD       *int `json:"pad_token_id"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return err
	}
	for _, s := range []struct {
		from *int
		to   *int
	}{{cfg.BOS, &v.BOS}, {cfg.EOS, &v.EOS}, {cfg.PAD, &v.PAD}} {
		if s.from != nil && *s.to == NoToken {
			*s.to = *s.from
		}
	}
	if cfg.VocabSize > v.Len() {
		v.Resize(cfg.VocabSize)
	}
	return nil
}
