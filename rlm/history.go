package rlm

import "fmt"

// history is the controller's conversation. When a context window is set,
// fit shortens it, oldest first, so that it leaves room for the reply. The
// first two messages, the system prompt and the question, are never
// touched. Shortening is permanent, so that the conversation's prefix stays
// the same from one call to the next (servers reuse a cached prefix).
type history struct {
	messages []Message
	// compacted marks messages already shortened.
	compacted []bool
	// charsPerToken converts characters to estimated tokens; it starts
	// conservative and follows what the controller reports.
	charsPerToken float64
}

// pinned is the number of leading messages fit never changes.
const pinned = 2

const (
	// Shortened outputs and replies keep their start, which usually says
	// what they were.
	keepOutputChars = 300
	keepReplyChars  = 800
)

func newHistory(system, first string) *history {
	return &history{
		messages:      []Message{{Role: RoleSystem, Content: system}, {Role: RoleUser, Content: first}},
		compacted:     []bool{true, true},
		charsPerToken: 3,
	}
}

func (h *history) add(role Role, content string) {
	h.messages = append(h.messages, Message{Role: role, Content: content})
	h.compacted = append(h.compacted, false)
}

// calibrate learns the characters-per-token ratio from a call's reported
// prompt tokens.
func (h *history) calibrate(sentChars, promptTokens int) {
	if promptTokens > 0 && sentChars > 0 {
		h.charsPerToken = float64(sentChars) / float64(promptTokens)
	}
}

func (h *history) tokens() int {
	return int(float64(messagesChars(h.messages)) / h.charsPerToken)
}

// fit shortens the conversation until it takes at most 7/8 of window
// tokens; once it has to shorten, it goes down to 3/4 so that it does not
// have to again at the next call. It returns how many messages it shortened
// or dropped. A zero window means no limit.
func (h *history) fit(window int) int {
	if window <= 0 || h.tokens() <= window*7/8 {
		return 0
	}
	return h.shrink(window)
}

// shrink shortens the conversation to 3/4 of window tokens, as fit does
// once it must.
func (h *history) shrink(window int) int {
	target := window * 3 / 4
	changed := 0
	// The latest reply and its output are what the controller works from:
	// shorten everything older first, outputs before replies.
	last := len(h.messages) - 2
	for _, step := range []struct {
		role Role
		keep int
	}{{RoleUser, keepOutputChars}, {RoleAssistant, keepReplyChars}} {
		for i := pinned; i < last && h.tokens() > target; i++ {
			if h.messages[i].Role == step.role && h.shorten(i, step.keep) {
				changed++
			}
		}
	}
	// Then drop the oldest steps, a reply and its output at a time, so that
	// the roles still alternate.
	for len(h.messages) > pinned+2 && h.tokens() > target {
		h.messages = append(h.messages[:pinned], h.messages[pinned+2:]...)
		h.compacted = append(h.compacted[:pinned], h.compacted[pinned+2:]...)
		changed += 2
	}
	// Last resort: the latest messages themselves are too long.
	for i := len(h.messages) - 1; i >= pinned && h.tokens() > target; i-- {
		excess := int(float64(h.tokens()-target)*h.charsPerToken) + len(shortenedMarker) + 20
		keep := max(keepOutputChars, len(h.messages[i].Content)-excess)
		if h.shortenTo(i, keep) {
			changed++
		}
	}
	return changed
}

// replace puts msgs in the place of messages [from, to).
func (h *history) replace(from, to int, msgs ...Message) {
	h.messages = append(h.messages[:from], append(msgs, h.messages[to:]...)...)
	flags := make([]bool, len(msgs))
	h.compacted = append(h.compacted[:from], append(flags, h.compacted[to:]...)...)
}

// shorten cuts message i to its first keep bytes once; it reports whether
// it changed anything.
func (h *history) shorten(i, keep int) bool {
	if h.compacted[i] {
		return false
	}
	return h.shortenTo(i, keep)
}

func (h *history) shortenTo(i, keep int) bool {
	content := h.messages[i].Content
	if len(content) <= keep+len(shortenedMarker)+20 {
		return false
	}
	cut := validUTF8Prefix(content, keep)
	h.messages[i].Content = content[:cut] + fmt.Sprintf(shortenedMarker, len(content)-cut)
	h.compacted[i] = true
	return true
}

const shortenedMarker = "\n[... %d characters removed to fit the context window ...]"

// validUTF8Prefix returns n, or less so that s[:n] does not split a UTF-8
// sequence.
func validUTF8Prefix(s string, n int) int {
	if n >= len(s) {
		return len(s)
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return n
}
