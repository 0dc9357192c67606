package trace

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/rlm"
)

// TestSubCallColumnsRoundTrip: every field of a sub-call that a trace file
// stores comes back as it was written, the named worker and the session's
// document included.
func TestSubCallColumnsRoundTrip(t *testing.T) {
	for _, want := range []SubCall{
		{
			SubCallInfo: rlm.SubCallInfo{ID: 7, Depth: 2, Kind: rlm.KindLLMQueryBatched, Model: "large",
				Document: 3, Offset: 1200, Length: 400, Query: "How many dice rolls?"},
			Run: 1, Iteration: 4, Block: 2, Answer: "12", Error: "",
			Prompt: []llama.Token{1, 20, 300},
		},
		{
			SubCallInfo: rlm.SubCallInfo{ID: 8, Depth: 1, Kind: rlm.KindSubCall, Offset: -1, Length: 5, Query: "q"},
			Error:       "budget spent",
			Prompt:      []llama.Token{4},
		},
	} {
		cols := newSubCallColumns(want, nil)
		var got SubCall
		require.NoError(t, got.fromColumns(want.ID, cols.values(KindPrompt)))
		assert.Equal(t, want, got)
	}
}
