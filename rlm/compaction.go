package rlm

import (
	"context"
	"fmt"
	"strings"
)

// compact replaces the controller's conversation by a summary the
// controller writes, once the conversation passes the compaction threshold
// of its window. Everything after the question goes but the latest reply
// and its output, which the controller works from. When the summary cannot
// be had, the conversation is shortened instead. It returns how many
// messages that shortening changed; only a cancelled context is an error.
func (ru *run) compact(ctx context.Context, iteration int) (shortened int, err error) {
	window, threshold := ru.cfg.controllerContext, ru.cfg.compaction
	if window <= 0 || threshold <= 0 || float64(ru.hist.tokens()) <= float64(window)*threshold {
		return 0, nil
	}
	msgs := ru.hist.messages
	if len(msgs) < pinned+4 || ru.t.budget.controllerSpent() {
		return 0, nil // nothing older than the latest step, or no call to spare: fit shortens
	}
	e := CompactionEvent{Run: ru.spec.id, Depth: ru.spec.depth, Iteration: iteration, TokensBefore: ru.hist.tokens()}
	keepFrom := len(msgs) - 2
	replaced := append([]Message(nil), msgs[pinned:keepFrom]...)
	request := append(append([]Message(nil), msgs...), Message{Role: RoleUser, Content: summaryRequest})
	c, elapsed, err := ru.complete(ctx, request)
	e.Duration = elapsed
	switch summary := strings.TrimSpace(c.Text); {
	case err != nil && ctx.Err() != nil:
		return 0, fmt.Errorf("controller: compaction: %w", err)
	case err != nil:
		e.Error = "the summary call failed: " + err.Error()
	case summary == "":
		e.Error = "the summary was empty"
	case len(summary) >= messagesChars(replaced):
		e.Error = fmt.Sprintf("the summary (%d characters) was no shorter than what it would replace (%d)",
			len(summary), messagesChars(replaced))
	default:
		ru.compactions++
		e.Replaced, e.Summary = replaced, summary
		ru.hist.replace(pinned, keepFrom,
			Message{Role: RoleAssistant, Content: summary},
			Message{Role: RoleUser, Content: compactedNote(ru.compactions)})
	}
	if err == nil {
		e.PromptTokens, e.CompletionTokens = c.PromptTokens, c.CompletionTokens
	}
	if e.Error != "" {
		shortened = ru.hist.shrink(window)
	}
	e.TokensAfter = ru.hist.tokens()
	ru.mu.Lock()
	if e.Error == "" {
		ru.stats.Compactions++
	} else {
		ru.stats.CompactionsFailed++
	}
	ru.mu.Unlock()
	if e.Error != "" {
		ru.log.Warn("rlm: compaction failed; shortened the history instead", "err", e.Error, "shortened", shortened)
	} else {
		ru.log.Info("rlm: compacted the history", "replaced", len(replaced), "tokens_before", e.TokensBefore,
			"tokens_after", e.TokensAfter)
	}
	ru.t.obs.compaction(e)
	return shortened, nil
}
