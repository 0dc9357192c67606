package llama

import (
	"errors"
	"fmt"
)

// Sentinel errors for conditions a caller acts on. Errors returned by this
// package wrap them, so test with errors.Is.
var (
	// ErrClosed is returned by methods of a Model, Context or Sampler after
	// Close.
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
	// ErrHookName means a hook's pattern matches no node of the model's graph.
	ErrHookName = errors.New("llama: no such graph node")
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
