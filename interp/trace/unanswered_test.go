package trace_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/interp/trace"
	"github.com/go-rlm/rlm/rlm"
)

// TestRunEndsBeforeAnswers drives the tracer's observer by hand: a run
// starts, the worker answers a batch of two sub-calls, only the first is
// reported, and the run ends. Both sub-calls' rows are in the file; the
// second says it was never answered.
func TestRunEndsBeforeAnswers(t *testing.T) {
	m := loadModel(t)
	tr, err := trace.New(t.TempDir(), trace.WithHooks("blocks.1.hook_resid_post"))
	require.NoError(t, err)
	worker := newWorker(t, m, tr)
	obs := tr.Observer()
	obs.RunStart(rlm.RunStartEvent{})
	infos := []rlm.SubCallInfo{
		{ID: 1, Depth: 1, Kind: rlm.KindLLMQueryBatched, Offset: -1, Length: 5, Query: "first"},
		{ID: 2, Depth: 1, Kind: rlm.KindLLMQueryBatched, Offset: -1, Length: 6, Query: "second"},
	}
	convs := [][]rlm.Message{{{Role: rlm.RoleUser, Content: "first"}}, {{Role: rlm.RoleUser, Content: "second"}}}
	got, err := worker.CompleteBatch(rlm.ContextWithSubCallBatch(context.Background(), infos), convs)
	require.NoError(t, err)
	obs.SubCall(rlm.SubCallEvent{SubCallInfo: infos[0], Answer: got[0].Text})
	obs.RunEnd(rlm.RunEndEvent{})
	require.NoError(t, tr.Close())

	subCalls := tr.SubCalls()
	require.Len(t, subCalls, 2)
	assert.Equal(t, got[0].Text, subCalls[0].Answer)
	assert.Empty(t, subCalls[0].Error)
	assert.Contains(t, subCalls[1].Error, "ended before")
	assert.NotEmpty(t, subCalls[1].Prompt, "the prompt is known all the same")

	rows := readRows(t, tr.Files()[0])
	bySubCall := map[int64]int{}
	for _, r := range rows {
		bySubCall[r.Sequence]++
		switch r.Sequence {
		case 1:
			assert.Equal(t, got[0].Text, column(r, "answer"))
			assert.Nil(t, column(r, "error"))
			assert.Equal(t, "first", column(r, "query"))
		case 2:
			assert.Equal(t, "", column(r, "answer"))
			assert.Contains(t, column(r, "error"), "ended before")
			assert.Equal(t, int64(-1), column(r, "chunk_offset"))
			assert.Equal(t, string(rlm.KindLLMQueryBatched), column(r, "kind"))
		}
	}
	assert.Positive(t, bySubCall[1])
	assert.Equal(t, 1+len(subCalls[1].Generated), bySubCall[2], "the last prompt token and the answer read back")
}
