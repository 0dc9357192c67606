package main

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/rlm/local"
)

func testWorker(t *testing.T) *local.LM {
	t.Helper()
	m, err := llama.LoadModel(context.Background(), workerModel(t))
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	lm, err := local.New(m, local.WithThreads(1), local.WithSequenceSize(1024), local.WithMaxTokens(12))
	require.NoError(t, err)
	t.Cleanup(func() { lm.Close() })
	return lm
}

// TestBaselineFit checks that the context window is cut at its end to
// what fits the worker's context with the question and the reply, and no
// shorter.
func TestBaselineFit(t *testing.T) {
	worker := testWorker(t)
	const window, maxTokens = 1024, 12
	b := &baseline{worker: worker, window: window, maxTokens: maxTokens}
	question := "Total number of rolls in this episode?"
	for _, tt := range []struct {
		name string
		text string
		cut  bool
	}{
		{"short", "Matt: Roll for initiative.\nLaura: 17.\n", false},
		{"long", strings.Repeat("Matt: Roll for initiative.\nLaura: 17.\n", 200), true},
		{"long, multibyte", strings.Repeat("Matt: Lancez l'initiative, dé à vingt faces 🎲.\n", 100), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, cut, err := b.fit(tt.text, question)
			require.NoError(t, err)
			assert.Equal(t, tt.cut, cut)
			assert.True(t, strings.HasPrefix(tt.text, got), "the window is cut at its end")
			assert.True(t, utf8.ValidString(got))
			n, err := countTokens(worker.Model(), baselineMessages(got, question))
			require.NoError(t, err)
			assert.LessOrEqual(t, n+maxTokens, window, "the conversation and the reply fit")
			if cut {
				assert.Greater(t, n+maxTokens, window-baselineMargin-8, "nothing more would fit")
			} else {
				assert.Equal(t, tt.text, got)
			}
		})
	}
	_, _, err := (&baseline{worker: worker, window: 64, maxTokens: maxTokens}).fit("text", strings.Repeat("why? ", 20))
	assert.ErrorContains(t, err, "the question alone fills")
}
