package chattemplate

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ardanlabs/jinja"
)

// Message is one turn of a conversation.
type Message struct {
	Role    string // "system", "user", "assistant", or another the template knows
	Content string
}

// Template is a compiled chat template. It is safe for concurrent use.
type Template struct {
	source string
	tmpl   *jinja.Template
}

// Parse compiles a chat template's Jinja source.
func Parse(source string) (*Template, error) {
	t, err := jinja.Compile(source)
	if err != nil {
		return nil, fmt.Errorf("chattemplate: parse: %w", err)
	}
	return &Template{source: source, tmpl: t}, nil
}

// Source returns the template's Jinja source.
func (t *Template) Source() string { return t.source }

// Option sets variables of a rendering.
type Option func(map[string]any)

// WithBOS sets bos_token, which templates that start with a beginning of
// sequence write out. Default "".
func WithBOS(token string) Option { return func(vars map[string]any) { vars["bos_token"] = token } }

// WithEOS sets eos_token. Default "".
func WithEOS(token string) Option { return func(vars map[string]any) { vars["eos_token"] = token } }

// WithVariable sets any other variable: tools (a list of JSON-like maps),
// documents, enable_thinking, date_string... Values are Go values as
// encoding/json decodes them (maps, slices, strings, numbers, bools, nil).
func WithVariable(name string, value any) Option {
	return func(vars map[string]any) { vars[name] = value }
}

// Render renders messages. addGenerationPrompt asks the template to end
// with the opening of an assistant turn, ready for generation. A template
// that calls raise_exception, or fails on these messages, returns an error.
func (t *Template) Render(messages []Message, addGenerationPrompt bool, opts ...Option) (string, error) {
	contents := make([]string, len(messages))
	for i, m := range messages {
		contents[i] = m.Content
	}
	return t.render(messages, contents, addGenerationPrompt, opts)
}

func (t *Template) render(messages []Message, contents []string, addGenerationPrompt bool, opts []Option) (string, error) {
	list := make([]any, len(messages))
	for i, m := range messages {
		list[i] = map[string]any{"role": m.Role, "content": contents[i]}
	}
	vars := map[string]any{
		"messages":              list,
		"add_generation_prompt": addGenerationPrompt,
		"tools":                 nil,
		"documents":             nil,
		"bos_token":             "",
		"eos_token":             "",
	}
	for _, opt := range opts {
		opt(vars)
	}
	out, err := t.tmpl.Render(vars)
	if err != nil {
		return "", fmt.Errorf("chattemplate: render: %w", err)
	}
	return out, nil
}

// Piece is a part of a rendering: text the template wrote, or the content
// of one message.
type Piece struct {
	Text    string
	Message int // the index of the message whose content this is, or -1 for the template's text
}

// ErrContentTransformed is returned by [Template.Pieces] when the template
// changed or repeated a message's content (Qwen3's strips the newlines
// that open an assistant message, for example), so that the rendering
// cannot be split into template text and content.
var ErrContentTransformed = errors.New("chattemplate: the template transforms message content")

// Pieces renders messages as [Template.Render] does and splits the result
// into the template's own text and each message's content, in order;
// joining the pieces' Text gives the rendering. A caller tokenizes the
// template's pieces with control tokens parsed and the content pieces as
// plain text, so that a message cannot forge a control token.
//
// It renders twice: once with the contents, once with each content
// replaced by a random marker, and checks that putting the contents back
// in place of the markers gives the first rendering. When it does not (the
// template transformed, dropped or repeated a content, or took another
// branch on it), the error wraps [ErrContentTransformed].
func (t *Template) Pieces(messages []Message, addGenerationPrompt bool, opts ...Option) ([]Piece, error) {
	want, err := t.Render(messages, addGenerationPrompt, opts...)
	if err != nil {
		return nil, err
	}
	var nonce [8]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, fmt.Errorf("chattemplate: pieces: %w", err)
	}
	prefix := "\x00chattemplate-" + hex.EncodeToString(nonce[:]) + "-"
	markers := make([]string, len(messages))
	for i := range messages {
		markers[i] = prefix + strconv.Itoa(i) + "\x00"
	}
	marked, err := t.render(messages, markers, addGenerationPrompt, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrContentTransformed, err)
	}
	var pieces []Piece
	seen := make([]bool, len(messages))
	for rest := marked; rest != ""; {
		i := strings.Index(rest, prefix)
		if i < 0 {
			pieces = append(pieces, Piece{Text: rest, Message: -1})
			break
		}
		if i > 0 {
			pieces = append(pieces, Piece{Text: rest[:i], Message: -1})
		}
		rest = rest[i+len(prefix):]
		end := strings.IndexByte(rest, 0)
		n, err := strconv.Atoi(rest[:max(end, 0)])
		if end < 0 || err != nil || n < 0 || n >= len(messages) || seen[n] {
			return nil, fmt.Errorf("%w: a content marker was cut or repeated", ErrContentTransformed)
		}
		seen[n] = true
		if messages[n].Content != "" {
			pieces = append(pieces, Piece{Text: messages[n].Content, Message: n})
		}
		rest = rest[end+1:]
	}
	var got strings.Builder
	for _, p := range pieces {
		got.WriteString(p.Text)
	}
	if got.String() != want {
		return nil, fmt.Errorf("%w: the rendering differs once the contents are put back", ErrContentTransformed)
	}
	return pieces, nil
}
