package llama

// #include <stdlib.h>
// #include "bridge.h"
import "C"

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ChatMessage is one turn of a conversation.
type ChatMessage struct {
	Role    string // "system", "user" or "assistant"
	Content string
}

// ChatML is the name of llama.cpp's built-in ChatML template, for
// WithChatTemplate when a model carries none.
const ChatML = "chatml"

// ApplyChatTemplate renders messages with the model's chat template (or the
// one set by WithChatTemplate) as text; addAssistant ends it with the
// opening of an assistant turn, ready for generation.
//
// The template is the Jinja program stored in the model's
// tokenizer.chat_template, run by a Jinja engine with the variables Hugging
// Face's apply_chat_template gives it (messages, add_generation_prompt, and
// the vocabulary's bos_token and eos_token, as llama.cpp's --jinja sets
// them), so the text is what Hugging Face renders: Qwen2.5's default system
// message included. A model without a template gives ErrNoChatTemplate;
// WithChatTemplate(ChatML) then chooses llama.cpp's built-in ChatML. A
// template that does not parse, or fails on these messages (a
// raise_exception), gives an error wrapping ErrChatTemplate that says why.
//
// The text is for reading. Once rendered, control-token text inside a
// message ("<|im_end|>" in a document) cannot be told from the template's
// own, so tokenizing it with control tokens parsed would let message content
// end turns and open new ones. Use [Model.TokenizeChat], or generate from
// [Chat], to get the tokens.
func (m *Model) ApplyChatTemplate(messages []ChatMessage, addAssistant bool) (string, error) {
	return m.renderChat(messages, addAssistant)
}

// renderChat renders messages with the chat template. It is the only place
// that knows how a template becomes text; TokenizeChat relies on nothing but
// its contract (messages in, text out, each message's content appearing in
// the text as it is or trimmed). A Jinja template is run by a Jinja engine,
// as Hugging Face's apply_chat_template runs it (template.go).
func (m *Model) renderChat(messages []ChatMessage, addAssistant bool) (string, error) {
	const op = "apply chat template"
	r, err := m.renderer(op)
	if err != nil {
		return "", err
	}
	return r.render(op, messages, addAssistant)
}

// TokenizeChat turns a conversation into the tokens the model reads, with
// every message's content treated as data: only the chat template's own text
// (its scaffolding) is parsed for control tokens, and each content is
// tokenized as plain text, so that "<|im_end|>" in a document is the text
// "<|im_end|>", never the end of a turn. The model's BOS and EOS are added
// where its vocabulary asks for them, unless the template wrote them itself
// (a bos_token at its start), as llama.cpp's --jinja does: never twice. For
// contents without control-token text the result equals
// Tokenize(ApplyChatTemplate(messages, addAssistant), true, true), short of
// that doubled BOS: the same tokens as the usual pipeline, boundaries
// included.
//
// It renders the conversation twice: once as it is, and once with a unique
// placeholder for each content, which gives the scaffolding around the
// contents. A template that changes a content other than by trimming
// whitespace, or whose scaffolding depends on what a content says, cannot be
// split this way, and one that leaves a content out would hide it from the
// model: both give an error wrapping ErrChatTemplate.
func (m *Model) TokenizeChat(messages []ChatMessage, addAssistant bool) ([]Token, error) {
	const op = "tokenize chat"
	rendered, err := m.renderChat(messages, addAssistant)
	if err != nil {
		return nil, err
	}
	parts, err := m.chatParts(messages, addAssistant, rendered)
	if err != nil {
		return nil, err
	}
	toks, err := m.tokenizeParts(parts)
	if err != nil {
		return nil, &Error{Op: op, Err: err}
	}
	return toks, nil
}

// A chatPart is a piece of a rendered conversation: template text, or (with
// content set) a message's content as the template rendered it.
type chatPart struct {
	text    string
	content bool
}

// chatParts cuts the rendered conversation into template text and contents.
func (m *Model) chatParts(messages []ChatMessage, addAssistant bool, rendered string) ([]chatPart, error) {
	const op = "tokenize chat"
	// Placeholders are plain letters and digits, so that templates pass
	// them through unchanged (trimmed, escaped or not), and carry a random
	// nonce that the conversation does not contain.
	var nonce string
	for {
		var b [8]byte
		_, _ = rand.Read(b[:])
		nonce = "rlm" + hex.EncodeToString(b[:]) + "m"
		if !strings.Contains(rendered, nonce) {
			break
		}
	}
	slotted := slices.Clone(messages)
	for i := range slotted {
		// An empty content stays empty: a template may test for one.
		if slotted[i].Content != "" {
			slotted[i].Content = nonce + strconv.Itoa(i) + "z"
		}
	}
	skeleton, err := m.renderChat(slotted, addAssistant)
	if err != nil {
		return nil, err
	}
	mismatch := func(why string) error {
		return &Error{Op: op, Err: fmt.Errorf("%w: its own text cannot be told from the messages' contents (%s): the template changes a content other than by trimming it, or renders differently depending on what a content says", ErrChatTemplate, why)}
	}

	// The skeleton alternates template text and placeholders; each
	// placeholder is matched in the rendered text by its content, as given
	// or trimmed.
	var parts []chatPart
	seen := make([]bool, len(messages))
	pos := 0
	for skeleton != "" {
		i := strings.Index(skeleton, nonce)
		text := skeleton
		if i >= 0 {
			text = skeleton[:i]
		}
		if !strings.HasPrefix(rendered[pos:], text) {
			return nil, mismatch(fmt.Sprintf("template text at byte %d", pos))
		}
		if text != "" {
			parts = append(parts, chatPart{text: text})
			pos += len(text)
		}
		if i < 0 {
			break
		}
		skeleton = skeleton[i+len(nonce):]
		end := strings.IndexByte(skeleton, 'z')
		msg, err := strconv.Atoi(skeleton[:max(end, 0)])
		if end < 0 || err != nil || msg < 0 || msg >= len(messages) {
			return nil, mismatch("a placeholder was changed")
		}
		seen[msg] = true
		skeleton = skeleton[end+1:]
		next := skeleton
		if j := strings.Index(next, nonce); j >= 0 {
			next = next[:j]
		}
		found := false
		for _, form := range contentForms(messages[msg].Content) {
			if strings.HasPrefix(rendered[pos:], form) && strings.HasPrefix(rendered[pos+len(form):], next) {
				if form != "" {
					parts = append(parts, chatPart{text: form, content: true})
				}
				pos += len(form)
				found = true
				break
			}
		}
		if !found {
			return nil, mismatch(fmt.Sprintf("the content of message %d", msg))
		}
	}
	if pos != len(rendered) {
		return nil, mismatch(fmt.Sprintf("%d bytes left over", len(rendered)-pos))
	}
	// A template may leave a message out (one that allows no system
	// message, say); the model would then answer without having read it.
	for i, msg := range messages {
		if msg.Content != "" && !seen[i] {
			return nil, &Error{Op: op, Err: fmt.Errorf("%w: it leaves out the content of message %d (%s), which the model would never read", ErrChatTemplate, i, msg.Role)}
		}
	}
	return parts, nil
}

// contentForms are the ways a template may render content: as it is,
// trimmed as llama.cpp's built-in templates trim (C's isspace), and trimmed
// as Jinja's trim filter does (Unicode white space).
func contentForms(content string) []string {
	forms := []string{content}
	for _, f := range []string{strings.Trim(content, cSpace), strings.TrimSpace(content)} {
		if !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	return forms
}

// cSpace is the white space of C's isspace in the C locale.
const cSpace = " \t\n\v\f\r"

// A controlToken is a vocabulary entry that tokenization with parseSpecial
// makes out of its text: llama.cpp's control and unknown tokens.
type controlToken struct {
	text           string
	id             Token
	lstrip, rstrip bool // the token eats white space on its left, right
}

// controlTokens returns the vocabulary's control tokens, longest text
// first: the order in which llama.cpp looks for them in text.
func (m *Model) controlTokens(c *C.struct_llama_model) []controlToken {
	m.controls.once.Do(func() {
		vocab := C.llama_model_get_vocab(c)
		n := int(C.llama_vocab_n_tokens(vocab))
		var toks []controlToken
		for id := 0; id < n; id++ {
			attr := C.llama_vocab_get_attr(vocab, C.llama_token(id))
			if attr&(C.LLAMA_TOKEN_ATTR_CONTROL|C.LLAMA_TOKEN_ATTR_UNKNOWN) == 0 {
				continue
			}
			text := C.GoString(C.llama_vocab_get_text(vocab, C.llama_token(id)))
			if text == "" {
				continue
			}
			toks = append(toks, controlToken{text: text, id: Token(id),
				lstrip: attr&C.LLAMA_TOKEN_ATTR_LSTRIP != 0, rstrip: attr&C.LLAMA_TOKEN_ATTR_RSTRIP != 0})
		}
		slices.SortStableFunc(toks, func(a, b controlToken) int { return len(b.text) - len(a.text) })
		m.controls.tokens = toks
	})
	return m.controls.tokens
}

// A segment is a control token or a piece of text that the tokenizer reads
// with control tokens not parsed.
type segment struct {
	text    string
	control *controlToken // nil for text
	tokens  []Token       // set instead for template text tokenized on its own
}

// splitControls cuts template text at the control tokens written in it, as
// llama.cpp's tokenizer does with parseSpecial: the longest token first,
// each occurrence from the left.
func splitControls(text string, controls []controlToken) []segment {
	segs := []segment{{text: text}}
	for k := range controls {
		ct := &controls[k]
		if !strings.Contains(text, ct.text) {
			continue
		}
		var out []segment
		for _, sg := range segs {
			if sg.control != nil {
				out = append(out, sg)
				continue
			}
			rest := sg.text
			for {
				i := strings.Index(rest, ct.text)
				if i < 0 {
					break
				}
				if i > 0 {
					out = append(out, segment{text: rest[:i]})
				}
				out = append(out, segment{control: ct})
				rest = rest[i+len(ct.text):]
			}
			if rest != "" {
				out = append(out, segment{text: rest})
			}
		}
		segs = out
	}
	return segs
}

// tokenizeParts tokenizes a rendered conversation: template text is cut at
// its control tokens; the text between two control tokens, contents
// included, is tokenized in one piece with control tokens not parsed, as
// llama.cpp tokenizes the text between control tokens it finds itself. So
// the tokens equal llama.cpp's for the whole text wherever contents hold no
// control-token text.
func (m *Model) tokenizeParts(parts []chatPart) ([]Token, error) {
	var (
		segs    []segment
		special SpecialTokens
	)
	err := m.use("tokenize chat", func(c *C.struct_llama_model) error {
		controls := m.controlTokens(c)
		v := C.llama_model_get_vocab(c)
		special.BOS, special.EOS = Token(C.llama_vocab_bos(v)), Token(C.llama_vocab_eos(v))
		special.AddBOS, special.AddEOS = bool(C.llama_vocab_get_add_bos(v)), bool(C.llama_vocab_get_add_eos(v))
		for _, p := range parts {
			if p.content {
				segs = append(segs, segment{text: p.text})
				continue
			}
			segs = append(segs, splitControls(p.text, controls)...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Check the cut against llama.cpp's own on each piece of template text:
	// where they disagree (a user-defined token overlapping a control
	// token's text, say), that piece keeps llama.cpp's tokens, tokenized on
	// its own. The contents stay plain text either way.
	segs, err = m.checkControlSplit(parts, segs)
	if err != nil {
		return nil, err
	}

	var out []Token
	var run strings.Builder
	stripLeft := false // the last control token eats the white space after it
	flush := func(stripRight bool) error {
		text := run.String()
		run.Reset()
		if stripLeft {
			text = strings.TrimLeft(text, cSpace)
		}
		if stripRight {
			text = strings.TrimRight(text, cSpace)
		}
		if text == "" {
			return nil
		}
		toks, err := m.Tokenize(text, false, false)
		out = append(out, toks...)
		return err
	}
	for _, sg := range segs {
		switch {
		case sg.control != nil:
			if err := flush(sg.control.lstrip); err != nil {
				return nil, err
			}
			out = append(out, sg.control.id)
			stripLeft = sg.control.rstrip
		case sg.tokens != nil:
			if err := flush(false); err != nil {
				return nil, err
			}
			out = append(out, sg.tokens...)
			stripLeft = false
		default:
			run.WriteString(sg.text)
		}
	}
	if err := flush(false); err != nil {
		return nil, err
	}
	// The template's own BOS or EOS (bos_token written at its start) stands
	// for the one the vocabulary asks for.
	if special.AddBOS && special.BOS != NoToken && (len(out) == 0 || out[0] != special.BOS) {
		out = slices.Insert(out, 0, special.BOS)
	}
	if special.AddEOS && special.EOS != NoToken && (len(out) == 0 || out[len(out)-1] != special.EOS) {
		out = append(out, special.EOS)
	}
	return out, nil
}

// checkControlSplit compares, for every piece of template text, the tokens
// of its cut at control tokens with llama.cpp's tokenization of the piece
// with parseSpecial, and replaces the cut of a piece where they differ by
// llama.cpp's tokens.
func (m *Model) checkControlSplit(parts []chatPart, segs []segment) ([]segment, error) {
	var out []segment
	k := 0
	for _, p := range parts {
		if p.content {
			out = append(out, segs[k])
			k++
			continue
		}
		// The segments of this piece are those whose text or tokens join
		// back to it.
		start := k
		for length := 0; length < len(p.text); k++ {
			if segs[k].control != nil {
				length += len(segs[k].control.text)
			} else {
				length += len(segs[k].text)
			}
		}
		mine, err := m.tokensOfSegments(segs[start:k])
		if err != nil {
			return nil, err
		}
		theirs, err := m.Tokenize(p.text, false, true)
		if err != nil {
			return nil, err
		}
		if slices.Equal(mine, theirs) {
			out = append(out, segs[start:k]...)
			continue
		}
		out = append(out, segment{tokens: theirs})
	}
	return out, nil
}

// tokensOfSegments tokenizes the segments of one piece of template text on
// their own, white space stripped around control tokens that ask for it.
func (m *Model) tokensOfSegments(segs []segment) ([]Token, error) {
	var out []Token
	for i, sg := range segs {
		if sg.control != nil {
			out = append(out, sg.control.id)
			continue
		}
		text := sg.text
		if i > 0 && segs[i-1].control != nil && segs[i-1].control.rstrip {
			text = strings.TrimLeft(text, cSpace)
		}
		if i+1 < len(segs) && segs[i+1].control != nil && segs[i+1].control.lstrip {
			text = strings.TrimRight(text, cSpace)
		}
		if text == "" {
			continue
		}
		toks, err := m.Tokenize(text, false, false)
		if err != nil {
			return nil, err
		}
		out = append(out, toks...)
	}
	return out, nil
}
