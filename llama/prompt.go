package llama

// #include "bridge.h"
import "C"

import "fmt"

// A Prompt is what generation continues: token ids, a conversation, or
// text. Make one with [Tokens], [Chat], [Text] or [TextWithControlTokens];
// the zero Prompt is empty and fails to generate.
//
// Only the program's own text may become control tokens: a conversation's
// message contents and a [Text] prompt are data, whatever they contain, and
// [TextWithControlTokens] is the one explicit way to write control tokens
// as text.
type Prompt struct {
	kind     promptKind
	tokens   []Token
	messages []ChatMessage
	text     string
}

type promptKind int

const (
	promptNone promptKind = iota
	promptTokens
	promptChat
	promptText
	promptControlText
)

// Tokens is a prompt of token ids, decoded as they are: for callers that
// tokenized themselves (with [Model.TokenizeChat], say) and need to know
// exactly what the model reads.
func Tokens(ids []Token) Prompt { return Prompt{kind: promptTokens, tokens: ids} }

// Chat is a conversation rendered with the model's chat template and ending
// with the opening of an assistant turn, tokenized by [Model.TokenizeChat]:
// control-token text inside a message's content stays text.
func Chat(messages ...ChatMessage) Prompt { return Prompt{kind: promptChat, messages: messages} }

// Text is plain text, with the model's BOS where its vocabulary asks for
// one. Control-token text in it ("<|im_start|>") is read as ordinary
// characters.
func Text(s string) Prompt { return Prompt{kind: promptText, text: s} }

// TextWithControlTokens is text in which control tokens written out, such
// as "<|im_start|>user\n", become those tokens, with the model's BOS where
// its vocabulary asks for one. It is for prompts a program writes itself,
// never for text that holds documents or model output.
func TextWithControlTokens(s string) Prompt { return Prompt{kind: promptControlText, text: s} }

// TokenizePrompt returns the tokens the model reads for p.
func (m *Model) TokenizePrompt(p Prompt) ([]Token, error) {
	switch p.kind {
	case promptTokens:
		err := m.use("tokenize prompt", func(c *C.struct_llama_model) error { return m.checkTokens(c, p.tokens) })
		return p.tokens, err
	case promptChat:
		return m.TokenizeChat(p.messages, true)
	case promptText:
		return m.Tokenize(p.text, true, false)
	case promptControlText:
		return m.Tokenize(p.text, true, true)
	}
	return nil, &Error{Op: "tokenize prompt", Err: fmt.Errorf("empty Prompt: make one with Tokens, Chat, Text or TextWithControlTokens")}
}
