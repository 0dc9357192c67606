package llamatest

// Token ids of the vocabulary: the 256 byte tokens come first, token b
// standing for byte b, then three control tokens.
const (
	TokenEndOfText = 256 // <|endoftext|>: beginning of sequence and padding
	TokenIMStart   = 257 // <|im_start|>: starts a chat message
	TokenIMEnd     = 258 // <|im_end|>: ends a chat message; end of generation
	VocabSize      = 259
)

// ChatTemplate is the model's tokenizer.chat_template: ChatML, the format of
// Qwen2.5, which llama.cpp's template detection recognises as chatml (it
// contains <|im_start|>). Unlike Qwen2.5's it adds no default system message
// and no tool calls.
const ChatTemplate = `{%- for message in messages -%}
{{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
{{- '<|im_start|>assistant\n' -}}
{%- endif -%}`

// GGUF token types (llama_token_type).
const (
	tokenTypeNormal  = 1
	tokenTypeControl = 3
)

// Tokens returns the vocabulary: the 256 byte tokens spelt in GPT-2's
// byte-to-unicode mapping (byte-level BPE, as Qwen2 uses), then
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

func tokenTypes() []int32 {
	types := make([]int32, VocabSize)
	for i := range types {
		types[i] = tokenTypeNormal
		if i >= 256 {
			types[i] = tokenTypeControl
		}
	}
	return types
}
