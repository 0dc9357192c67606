package trace_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/interp"
	"github.com/go-rlm/rlm/interp/trace"
	"github.com/go-rlm/rlm/rlm"
)

// TestTracePromptPositionsAndLayers records every prompt position of two
// layers, named by raw llama.cpp nodes. Before the run, the worker answers
// a conversation outside any run whose start every sub-call's prompt
// shares: package llama keeps that start in the cache, so the first
// sub-call decodes only the rest, and the tracer must still know its whole
// prompt.
func TestTracePromptPositionsAndLayers(t *testing.T) {
	m := loadModel(t)
	tr, err := trace.New(t.TempDir(), trace.WithHooks("l_out-*"), trace.WithLayers(0, 3), trace.WithPositions(trace.Prompt))
	require.NoError(t, err)
	worker := newWorker(t, m, tr)
	warm := []rlm.Message{{Role: rlm.RoleSystem, Content: "You answer a question about a piece of text."}, {Role: rlm.RoleUser, Content: "Hi"}}
	_, err = worker.Complete(context.Background(), warm)
	require.NoError(t, err)
	assert.Empty(t, tr.Files(), "nothing is recorded outside a run")

	runRLM(t, worker, tr)
	require.NoError(t, tr.Close())
	require.NoError(t, tr.Err())
	rows := readRows(t, tr.Files()[0])
	subCalls := tr.SubCalls()
	require.Len(t, subCalls, 4)

	type key struct {
		id   int64
		hook string
	}
	positions := map[key][]int{}
	for _, r := range rows {
		k := key{r.Sequence, r.Hook}
		positions[k] = append(positions[k], r.Position)
		assert.NotEqual(t, trace.KindGenerated, column(r, "position_kind"))
	}
	reused := 0
	for _, sc := range subCalls {
		prompt, err := m.Detokenize(sc.Prompt, false, true)
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(prompt, "<|im_start|>system\nYou answer a question about a piece of text."), "sub-call %d: the whole prompt, %q", sc.ID, prompt)

		first := positions[key{sc.ID, "blocks.0.hook_resid_post"}]
		require.NotEmpty(t, first, "sub-call %d", sc.ID)
		slices.Sort(first)
		// Layer 0 has a row at every position the worker decoded: from
		// where its cache's reuse ended to the last prompt token.
		assert.Equal(t, sc.PromptLast(), first[len(first)-1])
		assert.Len(t, first, sc.PromptLast()-first[0]+1, "no gap")
		if first[0] > 0 {
			reused++
		}
		// The last layer computes its later nodes at the last prompt
		// token only.
		assert.Equal(t, []int{sc.PromptLast()}, positions[key{sc.ID, "blocks.3.hook_resid_post"}])
		for k := range positions {
			if k.id == sc.ID {
				assert.Contains(t, []string{"blocks.0.hook_resid_post", "blocks.3.hook_resid_post"}, k.hook, "only layers 0 and 3")
			}
		}
	}
	assert.Positive(t, reused, "some sub-call reused a cached start")
}

func TestTraceErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  trace.Option
		want string
	}{
		{"no hooks", trace.WithHooks(), "no hook points"},
		{"no positions", trace.WithPositions(0), "positions 0"},
		{"unknown positions", trace.WithPositions(64), "positions 64"},
		{"a path as prefix", trace.WithPrefix("a/b"), "plain file name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := trace.New(t.TempDir(), tc.opt)
			assert.ErrorContains(t, err, tc.want)
		})
	}

	var nilTracer *trace.Tracer
	assert.NoError(t, nilTracer.Close())

	// A hook name the model lacks does not fail the run: the tracer says
	// why it recorded nothing.
	m := loadModel(t)
	tr, err := trace.New(t.TempDir(), trace.WithHooks("blocks.0.hook_nothing"), trace.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	res := runRLM(t, newWorker(t, m, tr), tr)
	assert.Equal(t, 4, res.Stats.SubCalls)
	assert.ErrorIs(t, tr.Err(), interp.ErrUnknownHook)
	assert.ErrorIs(t, tr.Close(), interp.ErrUnknownHook)
	assert.NoError(t, tr.Close(), "Close twice")
	require.Len(t, tr.Files(), 1)
	assert.Empty(t, readRows(t, tr.Files()[0]), "a valid, empty table")
	assert.Len(t, tr.SubCalls(), 4, "the sub-calls are still listed")
}
