package llama

import (
	"errors"
	"fmt"
)

// Sentinel errors for conditions a caller acts on. Errors returned by this
// package wrap them, so test with errors.Is.
var (
	// ErrClosed is returned by every method of a Model, Context or Sampler
	// that needs its C object, once Close has been called (see the package
	// documentation's Lifecycle section).
	ErrClosed = errors.New("llama: use after Close")
	// ErrKVCacheFull means the context has no room left for the batch:
	// shorten the prompt, remove tokens, or create a larger context.
	ErrKVCacheFull = errors.New("llama: KV cache full")
	// ErrBatchTooLarge means a batch holds more tokens than the context's
	// batch size (see WithBatchSize).
	ErrBatchTooLarge = errors.New("llama: batch larger than the context's batch size")
	// ErrNoLogits means logits were requested for a batch position that did
	// not ask for them.
	ErrNoLogits = errors.New("llama: no logits at this batch position")
	// ErrNoChatTemplate means the model carries no chat template and none was
	// given; use WithChatTemplate (for example ChatML) to choose one.
	ErrNoChatTemplate = errors.New("llama: model has no chat template")
	// ErrChatTemplate means the chat template cannot render the
	// conversation: its Jinja source does not parse, it stopped on these
	// messages (a raise_exception, such as a template that allows no system
	// message), or its own text cannot be told from the messages' contents.
	// The error says which; WithChatTemplate chooses another template.
	ErrChatTemplate = errors.New("llama: chat template failed")
	// ErrHookName means a hook's pattern matches no node of the model's graph.
	ErrHookName = errors.New("llama: no such graph node")
	// ErrKVEdit means the KV cache refused an edit, such as removing part
	// of a sequence from a cache that can only drop whole sequences.
	ErrKVEdit = errors.New("llama: the KV cache cannot make this edit")
	// ErrNoMetadata means the model has no metadata value under the key.
	ErrNoMetadata = errors.New("llama: no such metadata key")
	// ErrAttribution means the rows of a hooked graph node could not be
	// tied to tokens with certainty: what llama.cpp computed (its token,
	// position or sequence inputs, or the number of micro-batches) disagrees
	// with how this package expected it to split the batch. The decode is
	// failed rather than hooks being handed rows of the wrong tokens.
	ErrAttribution = errors.New("llama: activations cannot be attributed to tokens")
	// ErrInCallback means a function the Context calls back during a call
	// (a hook, a GenerateStream function) called a method of that Context,
	// which is busy; a hook may only read and change its Activation.
	ErrInCallback = errors.New("llama: method called from a callback of the same context")
)

// Error records which operation failed in llama.cpp, with what llama.cpp
// logged about it.
type Error struct {
	Op     string // the package operation, e.g. "load model", "decode"
	Code   int    // llama.cpp's return code, when it gave one
	Detail string // llama.cpp's own explanation from its log, if any
	Err    error  // a sentinel or underlying error, if any
}

func (e *Error) Error() string {
	msg := "llama: " + e.Op
	if e.Err != nil {
		msg += ": " + trimPrefix(e.Err.Error())
	}
	if e.Code != 0 {
		msg += fmt.Sprintf(" (code %d)", e.Code)
	}
	if e.Detail != "" {
		msg += ": llama.cpp: " + e.Detail
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// trimPrefix drops our own "llama: " prefix from a wrapped sentinel so that
// messages do not stutter.
func trimPrefix(s string) string {
	const p = "llama: "
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}
