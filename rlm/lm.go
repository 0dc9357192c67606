package rlm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Role says who wrote a [Message].
type Role string

// The roles of a chat conversation, as OpenAI-compatible servers and chat
// templates name them.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

// Message is one turn of a chat conversation.
type Message struct {
	Role    Role   `json:"role"`
	Content string `json:"content"`
}

// Completion is a model's answer to one conversation.
type Completion struct {
	// Text is the reply.
	Text string
	// PromptTokens and CompletionTokens count the tokens read and written.
	// When both are zero the engine estimates them from the text length
	// (about four characters a token) so that token budgets still hold.
	PromptTokens     int
	CompletionTokens int
	// CachedPromptTokens counts the prompt tokens the model did not have to
	// read again because it still held them from an earlier call (a reused
	// prompt prefix); zero when the model does not say.
	CachedPromptTokens int
	// Duration is the time the model spent on this completion as it
	// measures it. Sub-call events report it when it is set, which matters
	// for batches, whose wall time all items share; zero means unknown, and
	// the wall time of the call is reported instead.
	Duration time.Duration
}

// LM is a language model the engine can talk to: chat messages in, one reply
// out. Complete must honour ctx: when ctx is done it returns promptly with an
// error that wraps ctx.Err(). The engine calls Complete from several
// goroutines at once when sub-calls run concurrently, so implementations must
// be safe for concurrent use.
//
// Sampling settings (temperature, maximum reply length, stop strings) belong
// to the implementation, not to the call.
type LM interface {
	Complete(ctx context.Context, messages []Message) (Completion, error)
}

// BatchLM is an [LM] that can answer many independent conversations in one
// call, for example a local model that decodes them as parallel sequences of
// one context. The engine prefers CompleteBatch for batched sub-calls and
// never sends more conversations at once than its concurrency option
// (default 16).
//
// CompleteBatch returns one Completion per conversation, in order. When some
// conversations fail and others succeed it returns all completions and a
// [*BatchError] naming the failed ones; any other error fails the whole batch.
// During CompleteBatch, [SubCallsFromContext] returns the sub-calls the
// conversations belong to, in the same order.
type BatchLM interface {
	LM
	CompleteBatch(ctx context.Context, conversations [][]Message) ([]Completion, error)
}

// Limits is what a model can take at once; zero fields are unknown.
type Limits struct {
	// ContextTokens is the most tokens one conversation may hold, prompt
	// and reply together.
	ContextTokens int
	// ReplyTokens is the most tokens of one reply.
	ReplyTokens int
	// Batch is how many conversations the model decodes at once.
	Batch int
}

// LimitedLM is an [LM] that knows its [Limits]. The engine states them in
// the controller's prompt (the chunk size that fits a worker's context,
// the batch a worker decodes at once) and sizes the controller's
// conversation to its context unless [WithControllerContext] says
// otherwise.
type LimitedLM interface {
	LM
	Limits() Limits
}

// Fingerprinter is an [LM] that can say what decides its answers: the model
// and the sampling settings. Two LMs with equal fingerprints must answer
// equal messages alike. [WithSubCallCache] keys stored answers by it, so
// that a cache kept across runs is not served to a worker configured
// differently under the same name.
type Fingerprinter interface {
	LM
	Fingerprint() string
}

// limitsOf returns lm's limits, or zero ones.
func limitsOf(lm LM) Limits {
	if l, ok := lm.(LimitedLM); ok {
		return l.Limits()
	}
	return Limits{}
}

// BatchError reports the conversations of a [BatchLM.CompleteBatch] call that
// failed while the others succeeded. Errs has one entry per conversation; nil
// entries succeeded.
type BatchError struct {
	Errs []error
}

// Error summarises the failed items.
func (e *BatchError) Error() string {
	var failed []string
	var first error
	for i, err := range e.Errs {
		if err != nil {
			failed = append(failed, fmt.Sprint(i))
			if first == nil {
				first = err
			}
		}
	}
	if first == nil {
		return "rlm: batch: no item failed"
	}
	return fmt.Sprintf("rlm: batch: %d of %d items failed (items %s): first: %v",
		len(failed), len(e.Errs), strings.Join(failed, ", "), first)
}

// Unwrap returns the per-item errors, so that errors.Is and errors.As look
// through them.
func (e *BatchError) Unwrap() []error {
	var errs []error
	for _, err := range e.Errs {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// batchItemErrors maps the error of a CompleteBatch call onto its n items:
// a *BatchError gives each item its own error, any other error fails all.
func batchItemErrors(err error, n int) []error {
	errs := make([]error, n)
	if err == nil {
		return errs
	}
	var be *BatchError
	if errors.As(err, &be) && len(be.Errs) == n {
		copy(errs, be.Errs)
		return errs
	}
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// estimateTokens guesses a token count from text length, for models that do
// not report one.
func estimateTokens(chars int) int { return (chars + 3) / 4 }

// messagesChars is the total length of the messages' contents.
func messagesChars(messages []Message) int {
	n := 0
	for _, m := range messages {
		n += len(m.Content)
	}
	return n
}
