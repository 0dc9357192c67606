package main

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/local"
	"github.com/go-rlm/rlm/rlm/oolong"
)

// baseline asks the worker alone, as the official OOLONG evaluation asks a
// plain model: a system message of oolong.SystemPrompt and the context
// window, then the question as the user's message. The official script
// sends the prompt and the window as two text parts of one system message,
// which servers join with a newline; here they are joined the same way.
//
// A window that does not fit the worker's context with the question, the
// chat template and the reply is excluded (the official evaluation keeps
// only windows its model can read), or, with truncate, cut at its end to
// fit: the comparison the RLM paper makes, a model that sees only what
// fits. Either way the summary says how many.
type baseline struct {
	worker    *local.LM
	window    int // tokens per conversation
	maxTokens int // of the reply
	truncate  bool
}

// baselineMargin is the tokens kept free besides the measured ones, for
// the tokens that merge across the window's edges.
const baselineMargin = 16

// answer asks the worker and scores its reply; windowTokens is the
// window's length in the worker's tokens. An error of ctx is returned; any
// other error is recorded in the result.
func (b *baseline) answer(ctx context.Context, e oolong.Example, windowTokens int) (*BaselineRecord, error) {
	rec := &BaselineRecord{}
	rest, err := countTokens(b.worker.Model(), baselineMessages("", e.Question))
	if err != nil {
		rec.Error = err.Error()
		return rec, nil
	}
	text := e.ContextWindowText
	if budget := b.window - b.maxTokens - rest - baselineMargin; windowTokens > budget {
		if !b.truncate {
			rec.Excluded = fmt.Sprintf("the window's %d tokens do not fit the worker's %d-token context with the question, the template and a %d-token reply",
				windowTokens, b.window, b.maxTokens)
			return rec, nil
		}
		if text, rec.Truncated, err = b.fit(text, e.Question); err != nil {
			rec.Error = err.Error()
			return rec, nil
		}
	}
	rec.ContextChars = utf8.RuneCountInString(text)
	start := time.Now()
	c, err := b.worker.Complete(ctx, baselineMessages(text, e.Question))
	rec.Seconds = time.Since(start).Seconds()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		rec.Error = err.Error()
		return rec, nil
	}
	rec.Answer = c.Text
	rec.PromptTokens, rec.CompletionTokens = c.PromptTokens, c.CompletionTokens
	rec.Score, rec.LenientScore = score(e.Answer, c.Text)
	return rec, nil
}

func baselineMessages(text, question string) []rlm.Message {
	return []rlm.Message{
		{Role: rlm.RoleSystem, Content: oolong.SystemPrompt + "\n" + text},
		{Role: rlm.RoleUser, Content: question},
	}
}

// fit cuts text to the tokens left in the worker's window once the rest of
// the conversation and the reply have their room.
func (b *baseline) fit(text, question string) (string, bool, error) {
	model := b.worker.Model()
	rest, err := countTokens(model, baselineMessages("", question))
	if err != nil {
		return "", false, err
	}
	budget := b.window - b.maxTokens - rest - baselineMargin
	if budget <= 0 {
		return "", false, fmt.Errorf("baseline: the question alone fills the worker's %d-token context", b.window)
	}
	// Tokenize no more than can fit: even at 16 bytes a token, a prefix
	// that long holds more than budget tokens.
	prefix := text
	if limit := 16 * budget; len(prefix) > limit {
		prefix = prefix[:limit]
		for !utf8.ValidString(prefix) {
			prefix = prefix[:len(prefix)-1]
		}
	}
	tokens, err := model.Tokenize(prefix, false, false)
	if err != nil {
		return "", false, fmt.Errorf("baseline: %w", err)
	}
	if len(tokens) <= budget && len(prefix) == len(text) {
		return text, false, nil
	}
	if len(tokens) <= budget { // more than 16 bytes a token: take the whole text
		if tokens, err = model.Tokenize(text, false, false); err != nil {
			return "", false, fmt.Errorf("baseline: %w", err)
		}
		if len(tokens) <= budget {
			return text, false, nil
		}
	}
	cut, err := model.Detokenize(tokens[:budget], false, false)
	if err != nil {
		return "", false, fmt.Errorf("baseline: %w", err)
	}
	// A token boundary may fall inside a character of the byte-level
	// vocabulary: drop what is left of it.
	return strings.ToValidUTF8(cut, ""), true, nil
}

// countTokens is the length of a conversation as the model reads it, chat
// template and the assistant's opening included.
func countTokens(model *llama.Model, messages []rlm.Message) (int, error) {
	chat := make([]llama.ChatMessage, len(messages))
	for i, m := range messages {
		chat[i] = llama.ChatMessage{Role: string(m.Role), Content: m.Content}
	}
	tokens, err := model.TokenizeChat(chat, true)
	if err != nil {
		return 0, fmt.Errorf("baseline: %w", err)
	}
	return len(tokens), nil
}
