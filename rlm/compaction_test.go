package rlm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/rlmtest"
)

// summarizing is a controller that prints a long output per step, answers
// a request for a summary with summarize, and gives FINAL after steps
// steps of work.
func summarizing(steps int, summarize func(call int) (string, error)) *rlmtest.LM {
	done := 0 // calls are sequential: no lock needed
	return rlmtest.Func(func(_ context.Context, call int, messages []rlm.Message) (string, error) {
		if strings.Contains(lastUser(messages), "replaced by a summary you write now") {
			return summarize(call)
		}
		if done >= steps {
			return "FINAL(done)", nil
		}
		done++
		return code(fmt.Sprintf("step%d = %d", done, done), "print(' '.join(['word'] * 600))"), nil
	})
}

func TestCompactionBySummary(t *testing.T) {
	controller := summarizing(6, func(int) (string, error) {
		return "SUMMARY: steps 0 to n are done; results are in step0..stepN.", nil
	})
	r, traj := newRLM(t, controller, nil, rlm.WithControllerContext(4000), rlm.WithCompaction(0.5))
	res, err := r.Run(testContext(t), smallDoc, "How many?")
	require.NoError(t, err)
	require.Equal(t, "done", res.Answer)
	require.Positive(t, res.Stats.Compactions)
	assert.Zero(t, res.Stats.CompactionsFailed)

	var events []rlm.CompactionEvent
	for _, rec := range traj.Records {
		if rec.Type == rlm.RecordCompaction {
			events = append(events, *rec.Compaction)
		}
	}
	require.Len(t, events, res.Stats.Compactions)
	e := events[0]
	assert.Empty(t, e.Error)
	assert.True(t, strings.HasPrefix(e.Summary, "SUMMARY:"))
	require.NotEmpty(t, e.Replaced)
	assert.Equal(t, rlm.RoleAssistant, e.Replaced[0].Role, "the turns after the question are replaced")
	assert.Less(t, e.TokensAfter, e.TokensBefore)
	assert.Positive(t, e.PromptTokens)

	// The next call sees the summary in place of the replaced turns, then
	// the latest step, verbatim.
	calls := controller.Calls()
	var after []rlm.Message
	for i, call := range calls {
		if strings.Contains(lastUser(call), "replaced by a summary") {
			after = calls[i+1]
			before := call[:len(call)-1]
			assert.Equal(t, before[0], after[0], "system prompt kept")
			assert.Equal(t, before[1], after[1], "question kept")
			assert.Equal(t, before[len(before)-2:], after[4:6], "the latest reply and output kept")
			break
		}
	}
	require.Len(t, after, 6)
	assert.Equal(t, e.Summary, after[2].Content)
	assert.Equal(t, rlm.RoleAssistant, after[2].Role)
	assert.Contains(t, after[3].Content, "Your conversation was compacted (1 time so far)")
	assert.Equal(t, res.Stats.Iterations+res.Stats.Compactions, res.Stats.Controller.Calls,
		"summary calls are controller calls")

	var jsonl, page bytes.Buffer
	require.NoError(t, traj.WriteJSONL(&jsonl))
	back, err := rlm.ReadTrajectory(&jsonl)
	require.NoError(t, err)
	assert.Len(t, back.Records, len(traj.Records))
	require.NoError(t, back.WriteHTML(&page))
	assert.True(t, strings.Contains(page.String(), "History compacted"), "the page shows the compaction")
	assert.True(t, strings.Contains(page.String(), "SUMMARY: steps 0 to n are done"), "and its summary")
}

func TestCompactionFailureFallsBackToShortening(t *testing.T) {
	for name, summarize := range map[string]func(int) (string, error){
		"controller error": func(int) (string, error) { return "", errors.New("overloaded") },
		"empty summary":    func(int) (string, error) { return "  \n", nil },
		"too long":         func(int) (string, error) { return strings.Repeat("long summary ", 5000), nil },
	} {
		t.Run(name, func(t *testing.T) {
			controller := summarizing(6, summarize)
			r, traj := newRLM(t, controller, nil, rlm.WithControllerContext(4000), rlm.WithCompaction(0.5))
			res, err := r.Run(testContext(t), smallDoc, "How many?")
			require.NoError(t, err, "a failed compaction does not fail the run")
			assert.Equal(t, "done", res.Answer)
			assert.Zero(t, res.Stats.Compactions)
			require.Positive(t, res.Stats.CompactionsFailed)
			shortened := 0
			for _, it := range iterations(traj) {
				shortened += it.Shortened
			}
			assert.Positive(t, shortened, "the history was shortened instead")
			for _, rec := range traj.Records {
				if rec.Type == rlm.RecordCompaction {
					assert.NotEmpty(t, rec.Compaction.Error)
					assert.Empty(t, rec.Compaction.Replaced)
				}
			}
		})
	}
}

func TestCompactionCancelled(t *testing.T) {
	requirePython(t)
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	controller := summarizing(6, func(int) (string, error) {
		cancel()
		return "", context.Canceled
	})
	r, _ := newRLM(t, controller, nil, rlm.WithControllerContext(4000), rlm.WithCompaction(0.5))
	res, err := r.Run(ctx, smallDoc, "q?")
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, rlm.StopCancelled, res.Stop)
}

func TestCompactionOff(t *testing.T) {
	controller := summarizing(6, func(int) (string, error) { return "", errors.New("never asked") })
	r, _ := newRLM(t, controller, nil, rlm.WithControllerContext(4000), rlm.WithCompaction(0))
	res, err := r.Run(testContext(t), smallDoc, "q?")
	require.NoError(t, err)
	assert.Zero(t, res.Stats.Compactions+res.Stats.CompactionsFailed)
}
