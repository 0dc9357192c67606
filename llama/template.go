package llama

// #include <stdlib.h>
// #include "bridge.h"
import "C"

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/go-rlm/rlm/llama/chattemplate"
)

// A chatRenderer renders conversations with one chat template: a Jinja
// source, run by a real Jinja engine (package chattemplate) as Hugging
// Face's apply_chat_template and llama.cpp's --jinja run it, or the name
// of one of llama.cpp's built-in templates (ChatML), rendered by llama.cpp.
type chatRenderer struct {
	source  string
	origin  string                 // where the template came from, for errors
	builtin bool                   // source names a built-in template of llama.cpp
	jinja   *chattemplate.Template // the compiled source otherwise
	vars    []chattemplate.Option  // bos_token and eos_token
}

// renderer returns the renderer of the model's chat template, made on
// first use. A template that does not parse is an error on every use:
// nothing falls back to guessing the format (see newChatRenderer).
func (m *Model) renderer(op string) (*chatRenderer, error) {
	var r *chatRenderer
	err := m.use(op, func(c *C.struct_llama_model) error {
		m.chat.once.Do(func() { m.chat.renderer, m.chat.err = m.newChatRenderer(c) })
		r = m.chat.renderer
		return m.chat.err
	})
	return r, err
}

// newChatRenderer chooses how the model's template is rendered.
//
// A Jinja source is compiled, and one that does not compile is an error
// wrapping ErrChatTemplate rather than a fallback to llama.cpp's
// llama_chat_apply_template: that function does not run Jinja but
// recognises a few dozen known templates from words in their source, and
// renders what it recognises its own way (Qwen2.5's template, which holds
// "<|im_start|>", becomes plain ChatML without Qwen's default system
// message). A model would then read a prompt its template does not
// describe, without anyone being told. WithChatTemplate chooses a template
// that works, ChatML included.
func (m *Model) newChatRenderer(c *C.struct_llama_model) (*chatRenderer, error) {
	source, origin := m.chatTemplate, "WithChatTemplate's template"
	if source == "" {
		source, origin = modelChatTemplate(c), "the model's tokenizer.chat_template"
	}
	if source == "" {
		return nil, ErrNoChatTemplate
	}
	r := &chatRenderer{source: source, origin: origin}
	if slices.Contains(builtinChatTemplates(), source) {
		r.builtin = true
		return r, nil
	}
	tmpl, err := chattemplate.Parse(source)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrChatTemplate, origin, err)
	}
	r.jinja = tmpl
	// The variables llama.cpp's --jinja gives a template: the text of the
	// vocabulary's BOS and EOS tokens, or "" where it has none.
	vocab := C.llama_model_get_vocab(c)
	piece := func(tok C.llama_token) string {
		if tok == C.LLAMA_TOKEN_NULL {
			return ""
		}
		return tokenPiece(vocab, Token(tok), true)
	}
	r.vars = []chattemplate.Option{
		chattemplate.WithBOS(piece(C.llama_vocab_bos(vocab))),
		chattemplate.WithEOS(piece(C.llama_vocab_eos(vocab))),
	}
	return r, nil
}

// modelChatTemplate returns the model's own template, "" for none.
func modelChatTemplate(c *C.struct_llama_model) string {
	if p := C.llama_model_chat_template(c, nil); p != nil {
		return C.GoString(p)
	}
	return ""
}

// builtinChatTemplates lists the names of llama.cpp's built-in templates
// ("chatml", "llama3", ...).
var builtinChatTemplates = sync.OnceValue(func() []string {
	n := C.llama_chat_builtin_templates(nil, 0)
	if n <= 0 {
		return nil
	}
	ptrs := make([]*C.char, n)
	n = C.llama_chat_builtin_templates(&ptrs[0], C.size_t(len(ptrs)))
	names := make([]string, 0, n)
	for _, p := range ptrs[:min(int(n), len(ptrs))] {
		names = append(names, C.GoString(p))
	}
	return names
})

// render renders messages; addAssistant ends the text with the opening of
// an assistant turn.
func (r *chatRenderer) render(op string, messages []ChatMessage, addAssistant bool) (string, error) {
	if r.builtin {
		return renderBuiltin(op, r.source, messages, addAssistant)
	}
	msgs := make([]chattemplate.Message, len(messages))
	for i, msg := range messages {
		msgs[i] = chattemplate.Message{Role: msg.Role, Content: msg.Content}
	}
	text, err := r.jinja.Render(msgs, addAssistant, r.vars...)
	if err != nil {
		return "", &Error{Op: op, Err: fmt.Errorf("%w: %s: %w", ErrChatTemplate, r.origin, err)}
	}
	return text, nil
}

// renderBuiltin renders messages with the built-in template llama.cpp
// knows by name.
func renderBuiltin(op, name string, messages []ChatMessage, addAssistant bool) (string, error) {
	ctmpl := C.CString(name)
	defer C.free(unsafe.Pointer(ctmpl))

	cmsgs := make([]C.struct_llama_chat_message, len(messages))
	total := len(name)
	for i, msg := range messages {
		// C strings end at the first NUL: such a message would be cut short
		// without a word.
		if strings.IndexByte(msg.Role, 0) >= 0 || strings.IndexByte(msg.Content, 0) >= 0 {
			return "", &Error{Op: op, Err: fmt.Errorf("message %d holds a NUL byte, which llama.cpp's built-in templates cannot render", i)}
		}
		role, content := C.CString(msg.Role), C.CString(msg.Content)
		defer C.free(unsafe.Pointer(role))
		defer C.free(unsafe.Pointer(content))
		cmsgs[i] = C.struct_llama_chat_message{role: role, content: content}
		total += len(msg.Role) + len(msg.Content)
	}
	var pmsgs *C.struct_llama_chat_message
	if len(cmsgs) > 0 {
		pmsgs = &cmsgs[0]
	}
	buf := make([]byte, 2*total+256)
	var n C.int32_t
	log := logged(func() {
		n = C.llama_chat_apply_template(ctmpl, pmsgs, C.size_t(len(cmsgs)), C.bool(addAssistant),
			(*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(len(buf)))
		if int(n) > len(buf) {
			buf = make([]byte, n)
			n = C.llama_chat_apply_template(ctmpl, pmsgs, C.size_t(len(cmsgs)), C.bool(addAssistant),
				(*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(len(buf)))
		}
	})
	if n < 0 || log.err() != nil {
		return "", &Error{Op: op, Code: int(n), Err: cmp.Or(log.err(),
			fmt.Errorf("%w: llama.cpp's built-in template %q failed", ErrChatTemplate, name)), Detail: log.detail()}
	}
	return string(buf[:n]), nil
}
