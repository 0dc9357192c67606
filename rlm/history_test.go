package rlm

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// longHistory is a system prompt, a question and steps replies/outputs of
// the given sizes, with charsPerToken 1 so that sizes read as tokens.
func longHistory(steps, replyChars, outputChars int) *history {
	h := newHistory("SYSTEM "+strings.Repeat("s", 100), "QUESTION "+strings.Repeat("q", 100))
	h.charsPerToken = 1
	for i := 0; i < steps; i++ {
		h.add(RoleAssistant, strings.Repeat("r", replyChars))
		h.add(RoleUser, strings.Repeat("o", outputChars))
	}
	return h
}

func TestHistoryFitNoLimitOrRoom(t *testing.T) {
	h := longHistory(5, 1000, 5000)
	before := append([]Message(nil), h.messages...)
	assert.Zero(t, h.fit(0), "no window: no change")
	assert.Zero(t, h.fit(1_000_000), "plenty of room: no change")
	assert.Equal(t, before, h.messages)
}

func TestHistoryFitShortensOldOutputsFirst(t *testing.T) {
	h := longHistory(5, 1000, 5000) // about 30,200 tokens
	system, question := h.messages[0], h.messages[1]
	last := append([]Message(nil), h.messages[len(h.messages)-2:]...)

	changed := h.fit(24_000)

	require.Positive(t, changed)
	assert.LessOrEqual(t, h.tokens(), 24_000*3/4)
	assert.Equal(t, system, h.messages[0], "system prompt untouched")
	assert.Equal(t, question, h.messages[1], "question untouched")
	assert.Equal(t, last, h.messages[len(h.messages)-2:], "latest reply and output untouched")
	assert.Len(t, h.messages, 12, "outputs were enough: no step dropped")
	for i := pinned; i < len(h.messages)-2; i++ {
		if h.messages[i].Role == RoleAssistant {
			assert.Len(t, h.messages[i].Content, 1000, "replies kept while shortening outputs sufficed")
		}
	}
	assert.Contains(t, h.messages[3].Content, "characters removed to fit the context window")
	assert.Zero(t, h.fit(24_000), "fitting again at once changes nothing")
}

func TestHistoryFitDropsOldStepsKeepingAlternation(t *testing.T) {
	h := longHistory(30, 2000, 2000)
	changed := h.fit(6_000)
	require.Positive(t, changed)
	assert.LessOrEqual(t, h.tokens(), 6_000*3/4)
	assert.Equal(t, RoleSystem, h.messages[0].Role)
	assert.True(t, strings.HasPrefix(h.messages[1].Content, "QUESTION"))
	for i := pinned; i < len(h.messages); i++ {
		want := RoleAssistant
		if (i-pinned)%2 == 1 {
			want = RoleUser
		}
		assert.Equal(t, want, h.messages[i].Role, "message %d", i)
	}
}

func TestHistoryFitShortensLatestAsLastResort(t *testing.T) {
	h := longHistory(1, 500, 50_000)
	h.fit(8_000)
	assert.LessOrEqual(t, h.tokens(), 8_000*3/4)
	assert.Len(t, h.messages, 4)
	assert.True(t, strings.HasPrefix(h.messages[3].Content, "ooo"), "the output keeps its start")
}

func TestHistoryCalibrate(t *testing.T) {
	h := newHistory("s", "q")
	h.calibrate(4000, 1000)
	assert.InDelta(t, 4.0, h.charsPerToken, 1e-9)
	h.calibrate(4000, 0)
	assert.InDelta(t, 4.0, h.charsPerToken, 1e-9, "no reported count: ratio kept")
}

func TestValidUTF8Prefix(t *testing.T) {
	s := "aé" // 'é' is two bytes
	assert.Equal(t, 1, validUTF8Prefix(s, 2), "does not split é")
	assert.Equal(t, 3, validUTF8Prefix(s, 3))
	assert.Equal(t, 3, validUTF8Prefix(s, 10))
}
