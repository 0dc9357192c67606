package local_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/local"
	"github.com/go-rlm/rlm/rlm/rlmtest"
)

// Asynchronous sub-calls reach the local worker as concurrent calls, which
// it decodes together with whatever else is in flight, a synchronous call
// included.
func TestAsyncSubCallsShareABatch(t *testing.T) {
	m := loadModel(t)
	var mu sync.Mutex
	var generations [][]rlm.SubCallInfo
	worker := newLM(t, m, local.WithSequences(8), local.WithGatherWindow(time.Second),
		local.WithGenerationHook(func(g local.Generation) func() {
			mu.Lock()
			generations = append(generations, g.Calls)
			mu.Unlock()
			return nil
		}))
	controller := rlmtest.Replies([]string{
		rlmtest.Code("hs = [llm_query_async('chunk %d' % i) for i in range(5)]\nbusy = sum(range(1000))\nsync = llm_query('chunk 5')\nprint(len(wait_all(hs)), len(sync) > 0)"),
		"FINAL(done)",
	})
	engine, err := rlm.New(controller, worker, rlm.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := engine.Run(ctx, "document", "q?")
	require.NoError(t, err)
	require.Equal(t, "done", res.Answer)
	assert.Equal(t, 6, res.Stats.SubCalls)
	assert.Equal(t, 5, res.Stats.SubCallsAsync)
	assert.Zero(t, res.Stats.SubCallsFailed)

	mu.Lock()
	defer mu.Unlock()
	total, largest := 0, 0
	for _, g := range generations {
		total += len(g)
		largest = max(largest, len(g))
	}
	assert.Equal(t, 6, total)
	// Within the gather window all six are in flight at once: one decode.
	// A machine slow enough to stretch the starts past it makes two.
	assert.LessOrEqual(t, len(generations), 2, "decodes: %v", generations)
	assert.GreaterOrEqual(t, largest, 3, "calls in flight were decoded together: %v", generations)
}

func TestLimitsFingerprintAndCachedTokens(t *testing.T) {
	m := loadModel(t)
	lm := newLM(t, m, local.WithSequences(1), local.WithSequenceSize(2048), local.WithMaxTokens(8),
		local.WithSampling(llama.Sampling{Temperature: 0.5, Seed: 3}))
	assert.Equal(t, rlm.Limits{ContextTokens: 2048, ReplyTokens: 8, Batch: 1}, lm.Limits())
	other := newLM(t, m, local.WithSequences(1), local.WithSequenceSize(2048), local.WithMaxTokens(8))
	assert.NotEqual(t, lm.Fingerprint(), other.Fingerprint(), "sampling settings are part of it")
	assert.Contains(t, lm.Fingerprint(), m.Path())

	conv := []rlm.Message{{Role: rlm.RoleSystem, Content: "You are a controller with a long system prompt."}, {Role: rlm.RoleUser, Content: "first"}}
	first, err := other.Complete(context.Background(), conv)
	require.NoError(t, err)
	assert.Zero(t, first.CachedPromptTokens)
	conv = append(conv, rlm.Message{Role: rlm.RoleAssistant, Content: first.Text}, rlm.Message{Role: rlm.RoleUser, Content: "second"})
	second, err := other.Complete(context.Background(), conv)
	require.NoError(t, err)
	assert.Positive(t, second.CachedPromptTokens, "the conversation's start is still in the sequence")
	assert.Less(t, second.CachedPromptTokens, second.PromptTokens)
}
