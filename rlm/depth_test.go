package rlm_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/rlmtest"
)

// treeController plays both the root and its child: it tells them apart by
// the question in the conversation's first user message, and its turn by
// the number of replies so far.
func treeController(root, child []string) *rlmtest.LM {
	return rlmtest.Func(func(_ context.Context, _ int, messages []rlm.Message) (string, error) {
		turn := 0
		for _, m := range messages {
			if m.Role == rlm.RoleAssistant {
				turn++
			}
		}
		script := root
		if strings.Contains(messages[1].Content, "Question: Who rolled 17?") {
			script = child
		}
		if turn >= len(script) {
			return "FINAL(out of script)", nil
		}
		return script[turn], nil
	})
}

func TestDepthTwoChildAnswersParent(t *testing.T) {
	controller := treeController(
		[]string{
			code("who = rlm_query(context[23:49], 'Who rolled 17?')", "print('child said', who)"),
			"FINAL_VAR(who)",
		},
		[]string{code("FINAL(sub_call(context, question))")},
	)
	worker := rlmtest.Func(func(_ context.Context, _ int, messages []rlm.Message) (string, error) {
		if strings.Contains(lastUser(messages), "Laura: 17.") {
			return "Laura", nil
		}
		return "unknown", nil
	})
	r, traj := newRLM(t, controller, worker, rlm.WithMaxDepth(2))

	res, err := r.Run(testContext(t), smallDoc, "Who rolled highest?")
	require.NoError(t, err)

	assert.Equal(t, "Laura", res.Answer)
	assert.True(t, res.Final)
	assert.Equal(t, 2, res.Stats.Runs)
	assert.Equal(t, map[int]int{1: 1, 2: 1}, res.Stats.SubCallsByDepth)
	assert.Equal(t, 3, res.Stats.Iterations, "two root replies and one child reply")
	assert.Equal(t, 3, res.Stats.Controller.Calls)
	assert.Equal(t, 1, res.Stats.Worker.Calls)
	assert.Contains(t, codeBlocks(traj)[1].Stdout, "child said Laura")

	var starts []rlm.RunStartEvent
	for _, rec := range traj.Records {
		if rec.Type == rlm.RecordRunStart {
			starts = append(starts, *rec.RunStart)
		}
	}
	require.Len(t, starts, 2)
	assert.Contains(t, starts[0].SystemPrompt, "rlm_query(text, query)", "the root may start a child")
	assert.NotContains(t, starts[1].SystemPrompt, "rlm_query", "the child, at the last depth, may not")
	child := starts[1]
	assert.Equal(t, 1, child.Run)
	assert.Equal(t, 1, child.Depth)
	assert.Equal(t, "Who rolled 17?", child.Question)
	assert.Equal(t, 26, child.DocumentLength)

	calls := subCalls(traj)
	require.Len(t, calls, 2)
	workerCall, rlmQuery := calls[0], calls[1] // the child's call ends first
	assert.Equal(t, rlm.KindSubCall, workerCall.Kind)
	assert.Equal(t, 2, workerCall.Depth)
	assert.Equal(t, 1, workerCall.Run)
	assert.Equal(t, 0, workerCall.Offset, "offsets are in the child's own document")
	assert.Equal(t, rlm.KindRLMQuery, rlmQuery.Kind)
	assert.Equal(t, 1, rlmQuery.Depth)
	assert.Equal(t, 23, rlmQuery.Offset)
	assert.Equal(t, 1, rlmQuery.ChildRun)
	assert.Equal(t, child.ParentCall, rlmQuery.ID)
	assert.Equal(t, "Laura", rlmQuery.Answer)
}

func TestDepthOneRLMQueryIsWorkerCall(t *testing.T) {
	controller := rlmtest.Replies([]string{
		code("print(rlm_query(context[:10], 'what?'))", "print(rlm_query('just do it'))"),
		"FINAL(done)",
	})
	r, traj := newRLM(t, controller, echoWorker())
	res, err := r.Run(testContext(t), smallDoc, "q?")
	require.NoError(t, err)
	assert.Equal(t, 1, res.Stats.Runs, "no child run at depth 1")
	calls := subCalls(traj)
	require.Len(t, calls, 2)
	for _, c := range calls {
		assert.Equal(t, rlm.KindRLMQuery, c.Kind)
		assert.Zero(t, c.ChildRun)
	}
	out := codeBlocks(traj)[0].Stdout
	assert.Contains(t, out, "Question: what?")
	assert.Contains(t, out, "just do it")
}
