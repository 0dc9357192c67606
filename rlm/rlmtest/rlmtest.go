package rlmtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-rlm/rlm/rlm"
)

// ErrScriptExhausted is returned by an LM made with [Replies] once every
// reply has been used.
var ErrScriptExhausted = errors.New("rlmtest: script exhausted")

// Respond answers one conversation. call counts the LM's calls from 0, in
// the order they began.
type Respond func(ctx context.Context, call int, messages []rlm.Message) (string, error)

// LM is a scripted [rlm.LM]: it answers from a list or a function, records
// every conversation it was sent, and reports token counts as [CountTokens]
// counts them. It is safe for concurrent use.
type LM struct {
	respond     Respond
	delay       time.Duration
	limits      rlm.Limits
	fingerprint string

	mu    sync.Mutex
	calls [][]rlm.Message
}

// Option configures an [LM].
type Option func(*LM)

// WithDelay makes every call take d, or less when its context is done
// first (the call then fails with the context's error). Default 0.
func WithDelay(d time.Duration) Option { return func(l *LM) { l.delay = d } }

// WithLimits makes the LM report limits, as [rlm.LimitedLM]. Default:
// zero limits, which the engine reads as unknown.
func WithLimits(l rlm.Limits) Option { return func(m *LM) { m.limits = l } }

// WithFingerprint makes the LM report fingerprint, as [rlm.Fingerprinter].
// Default "".
func WithFingerprint(fingerprint string) Option { return func(m *LM) { m.fingerprint = fingerprint } }

// Limits returns the limits given to [WithLimits].
func (l *LM) Limits() rlm.Limits { return l.limits }

// Fingerprint returns the fingerprint given to [WithFingerprint].
func (l *LM) Fingerprint() string { return l.fingerprint }

// Replies returns an LM that answers its calls with replies in order and
// then fails with [ErrScriptExhausted].
func Replies(replies []string, opts ...Option) *LM {
	return Func(func(_ context.Context, call int, _ []rlm.Message) (string, error) {
		if call >= len(replies) {
			return "", fmt.Errorf("%w: call %d of %d replies", ErrScriptExhausted, call+1, len(replies))
		}
		return replies[call], nil
	}, opts...)
}

// Func returns an LM that answers with respond.
func Func(respond Respond, opts ...Option) *LM {
	l := &LM{respond: respond}
	for _, opt := range opts {
		opt(l)
	}
	return l
}

// Complete records messages and answers them. It fails with ctx's error
// when ctx is done before the answer is ready.
func (l *LM) Complete(ctx context.Context, messages []rlm.Message) (rlm.Completion, error) {
	l.mu.Lock()
	call := len(l.calls)
	l.calls = append(l.calls, append([]rlm.Message(nil), messages...))
	l.mu.Unlock()
	start := time.Now()
	if err := l.wait(ctx); err != nil {
		return rlm.Completion{}, err
	}
	text, err := l.respond(ctx, call, messages)
	if err != nil {
		return rlm.Completion{}, err
	}
	prompt := 0
	for _, m := range messages {
		prompt += CountTokens(m.Content)
	}
	return rlm.Completion{
		Text:             text,
		PromptTokens:     prompt,
		CompletionTokens: CountTokens(text),
		Duration:         time.Since(start),
	}, nil
}

func (l *LM) wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("rlmtest: %w", err)
	}
	if l.delay <= 0 {
		return nil
	}
	timer := time.NewTimer(l.delay)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("rlmtest: %w", ctx.Err())
	case <-timer.C:
		return nil
	}
}

// Calls returns a copy of the conversations the LM has been sent, in the
// order the calls began.
func (l *LM) Calls() [][]rlm.Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([][]rlm.Message, len(l.calls))
	for i, c := range l.calls {
		out[i] = append([]rlm.Message(nil), c...)
	}
	return out
}

// CallCount returns the number of calls so far.
func (l *LM) CallCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.calls)
}

// CountTokens is the scripted LMs' token count: the number of
// whitespace-separated words. It is deterministic, which real tokenizers'
// counts are not across models.
func CountTokens(text string) int { return len(strings.Fields(text)) }

// BatchLM is a scripted [rlm.BatchLM]: its CompleteBatch answers each
// conversation with the wrapped [LM] and records the size of each batch. An
// item whose answer fails makes CompleteBatch return an [*rlm.BatchError].
// It is safe for concurrent use.
type BatchLM struct {
	*LM

	mu      sync.Mutex
	batches [][]rlm.SubCallInfo
}

// Batch wraps l so that it also answers batches.
func Batch(l *LM) *BatchLM { return &BatchLM{LM: l} }

// CompleteBatch answers the conversations in order, one after another.
func (b *BatchLM) CompleteBatch(ctx context.Context, conversations [][]rlm.Message) ([]rlm.Completion, error) {
	infos, _ := rlm.SubCallsFromContext(ctx)
	b.mu.Lock()
	b.batches = append(b.batches, infos)
	b.mu.Unlock()
	completions := make([]rlm.Completion, len(conversations))
	errs := make([]error, len(conversations))
	failed := false
	for i, conv := range conversations {
		itemCtx := ctx
		if i < len(infos) {
			itemCtx = rlm.ContextWithSubCall(ctx, infos[i])
		}
		completions[i], errs[i] = b.LM.Complete(itemCtx, conv)
		if errs[i] != nil {
			if ctx.Err() != nil {
				return nil, errs[i]
			}
			failed = true
		}
	}
	if failed {
		return completions, &rlm.BatchError{Errs: errs}
	}
	return completions, nil
}

// Batches returns, for each CompleteBatch call so far, the sub-calls it
// answered as the engine described them in its context.
func (b *BatchLM) Batches() [][]rlm.SubCallInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([][]rlm.SubCallInfo, len(b.batches))
	for i, infos := range b.batches {
		out[i] = append([]rlm.SubCallInfo(nil), infos...)
	}
	return out
}

// Code wraps Python code in a ```repl fence, as a controller writes it.
func Code(code string) string { return "```repl\n" + strings.TrimSpace(code) + "\n```" }
