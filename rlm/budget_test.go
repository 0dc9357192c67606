package rlm_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/rlmtest"
)

func TestSubCallBudget(t *testing.T) {
	controller := rlmtest.Replies([]string{
		code("answers = [llm_query(str(i)) for i in range(3)]", "print(answers)"),
		"FINAL(partial)",
	})
	r, traj := newRLM(t, controller, echoWorker(), rlm.WithSubCallBudget(2))

	res, err := r.Run(testContext(t), smallDoc, "q?")
	require.NoError(t, err, "a budget running out is not an error")

	assert.Equal(t, rlm.StopSubCallBudget, res.Stop)
	assert.Equal(t, "partial", res.Answer, "the controller was asked once more for an answer")
	assert.True(t, res.Final)
	assert.Equal(t, 2, res.Stats.SubCalls)
	assert.Contains(t, codeBlocks(traj)[0].Stdout, "['0', '1', 'Error: sub-call budget exhausted']")
	request := lastUser(controller.Calls()[1])
	assert.Contains(t, request, "sub-call budget is spent")
	assert.Contains(t, request, "give your final answer now")
	its := iterations(traj)
	require.Len(t, its, 2)
	assert.True(t, its[1].Extra)
}

func TestWorkerTokenBudget(t *testing.T) {
	worker := rlmtest.Replies([]string{strings.Repeat("word ", 50), "never sent"})
	controller := rlmtest.Replies([]string{
		code("print(llm_query('first'))", "print(llm_query('second'))"),
		"I could not finish.",
	})
	r, _ := newRLM(t, controller, worker, rlm.WithWorkerTokenBudget(10))

	res, err := r.Run(testContext(t), smallDoc, "q?")
	require.NoError(t, err)

	assert.Equal(t, rlm.StopWorkerTokens, res.Stop)
	assert.False(t, res.Final)
	assert.Equal(t, "I could not finish.", res.Answer, "without FINAL the last reply is the answer")
	assert.Equal(t, 1, worker.CallCount(), "the second call was refused")
}

func TestControllerTokenBudget(t *testing.T) {
	controller := rlmtest.Replies([]string{code("x = 1"), code("y = 2"), "FINAL(late)"})
	r, _ := newRLM(t, controller, nil, rlm.WithControllerTokenBudget(1))

	res, err := r.Run(testContext(t), smallDoc, "q?")
	require.NoError(t, err)

	assert.Equal(t, rlm.StopControllerTokens, res.Stop)
	assert.Empty(t, res.Answer)
	assert.Equal(t, 1, controller.CallCount(), "no call after the budget is spent")
}

func TestTimeLimit(t *testing.T) {
	controller := rlmtest.Func(func(ctx context.Context, call int, _ []rlm.Message) (string, error) {
		if call == 0 {
			return code("x = 1"), nil
		}
		<-ctx.Done() // the second reply never comes in time
		return "", ctx.Err()
	})
	r, _ := newRLM(t, controller, nil, rlm.WithTimeLimit(3*time.Second)) // room for the REPL to start on a loaded machine

	res, err := r.Run(testContext(t), smallDoc, "q?")
	require.NoError(t, err, "the time limit is a stop reason, not an error")
	assert.Equal(t, rlm.StopTimeLimit, res.Stop)
	assert.Equal(t, 1, res.Stats.Iterations)
}

func TestMaxIterations(t *testing.T) {
	tests := []struct {
		name   string
		last   string
		answer string
		final  bool
	}{
		{"answers with FINAL when asked", "FINAL(best guess)", "best guess", true},
		{"answers with FINAL in code", code("FINAL(len(context))"), fmt.Sprint(len(smallDoc)), true},
		{"answers without FINAL", "Probably Vex.\n```text\nignored\n```", "Probably Vex.", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			controller := rlmtest.Replies([]string{code("a = 1"), code("b = 2"), code("c = 3"), tt.last})
			r, traj := newRLM(t, controller, nil, rlm.WithMaxIterations(3))
			res, err := r.Run(testContext(t), smallDoc, "q?")
			require.NoError(t, err)
			assert.Equal(t, rlm.StopMaxIterations, res.Stop)
			assert.Equal(t, tt.answer, res.Answer)
			assert.Equal(t, tt.final, res.Final)
			assert.Equal(t, 4, res.Stats.Iterations)
			calls := controller.Calls()
			require.Len(t, calls, 4)
			assert.Contains(t, lastUser(calls[1]), "That was reply 1 of 3")
			assert.Contains(t, lastUser(calls[3]), "You have used all 3 replies")
			its := iterations(traj)
			require.Len(t, its, 4)
			assert.True(t, its[3].Extra)
			assert.Equal(t, 4, its[3].Iteration)
		})
	}
}

func TestLongHistoryIsShortened(t *testing.T) {
	var replies []string
	for i := range 8 {
		// 1,500 words: rlmtest counts a word a token.
		replies = append(replies, code("print(' '.join(['word'] * 1500))", fmt.Sprintf("x%d = 1", i)))
	}
	replies = append(replies, "FINAL(done)")
	controller := rlmtest.Replies(replies)
	r, traj := newRLM(t, controller, nil, rlm.WithControllerContext(8000), rlm.WithCompaction(0))

	res, err := r.Run(testContext(t), smallDoc, "How many?")
	require.NoError(t, err)
	require.Equal(t, "done", res.Answer)

	calls := controller.Calls()
	system, question := calls[0][0], calls[0][1]
	shortened := false
	for _, call := range calls {
		assert.Equal(t, system, call[0], "the system prompt is never shortened")
		assert.Equal(t, question, call[1], "the question is never shortened")
		chars := 0
		for _, m := range call {
			chars += len(m.Content)
		}
		// Eight outputs of 7,500 characters would make 60,000; the
		// history stays near 3/4 of the window (about 30,000 characters
		// at this controller's five characters a token) plus the latest.
		assert.Less(t, chars, 45_000)
		for _, m := range call[2:] {
			if strings.Contains(m.Content, "removed to fit the context window") {
				shortened = true
			}
		}
	}
	assert.True(t, shortened, "old outputs were shortened")
	total := 0
	for _, it := range iterations(traj) {
		total += it.Shortened
	}
	assert.Positive(t, total)
}
