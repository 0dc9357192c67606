package rlm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/rlmtest"
)

const smallDoc = "Matt: Roll initiative.\nLaura: 17.\nTaliesin: 12.\n\nMatt: Vex goes first."

func TestRunControllerNeverSeesDocument(t *testing.T) {
	secret := "SECRET-" + strings.Repeat("z", 50)
	controller := rlmtest.Replies([]string{
		code("print(len(context), context == prompt, question)"),
		code("FINAL(context.count('z'))"),
	})
	r, _ := newRLM(t, controller, nil)

	res, err := r.Run(testContext(t), secret, "How many z?")
	require.NoError(t, err)

	assert.Equal(t, "50", res.Answer)
	assert.True(t, res.Final)
	assert.Equal(t, rlm.StopFinal, res.Stop)
	calls := controller.Calls()
	require.Len(t, calls, 2)
	for _, call := range calls {
		for _, m := range call {
			assert.NotContains(t, m.Content, "SECRET", "the controller is never sent the document")
		}
	}
	first := calls[0]
	require.Len(t, first, 2)
	assert.Equal(t, rlm.RoleSystem, first[0].Role)
	assert.Contains(t, first[0].Content, "sub_call(chunk, query)")
	assert.Contains(t, first[1].Content, fmt.Sprintf("a str of %d characters", len(secret)))
	assert.Contains(t, first[1].Content, "How many z?")
	assert.Contains(t, lastUser(calls[1]), fmt.Sprintf("%d True How many z?", len(secret)),
		"the block's output is the next message")
}

func TestRunStats(t *testing.T) {
	controller := rlmtest.Replies([]string{
		code("a = sub_call(context, 'who rolls?')", "print(a)") + "\n" + code("1/0"),
		code("FINAL(a)"),
	})
	worker := rlmtest.Replies([]string{"Laura and Taliesin"})
	r, _ := newRLM(t, controller, worker)

	res, err := r.Run(testContext(t), smallDoc, "Who rolls?")
	require.NoError(t, err)

	assert.Equal(t, "Laura and Taliesin", res.Answer)
	s := res.Stats
	assert.Equal(t, 1, s.Runs)
	assert.Equal(t, 2, s.Iterations)
	assert.Equal(t, 3, s.CodeBlocks)
	assert.Equal(t, 1, s.CodeBlocksFailed)
	assert.InDelta(t, 2.0/3.0, s.CodeSuccessRate(), 1e-9)
	assert.Equal(t, 1, s.SubCalls)
	assert.Equal(t, map[int]int{1: 1}, s.SubCallsByDepth)
	assert.Equal(t, 2, s.Controller.Calls)
	assert.Equal(t, 1, s.Worker.Calls)
	assert.Equal(t, rlmtest.CountTokens("Laura and Taliesin"), s.Worker.CompletionTokens)
	var wantControllerOut int
	for _, reply := range []string{
		code("a = sub_call(context, 'who rolls?')", "print(a)") + "\n" + code("1/0"),
		code("FINAL(a)"),
	} {
		wantControllerOut += rlmtest.CountTokens(reply)
	}
	assert.Equal(t, wantControllerOut, s.Controller.CompletionTokens)
	assert.Positive(t, s.Controller.PromptTokens)
	assert.Positive(t, s.Time.Total)
	assert.Positive(t, s.Time.REPLStart)
	assert.Positive(t, s.Time.Code)
	assert.Positive(t, s.Time.Worker)
	assert.GreaterOrEqual(t, s.Time.Total, s.Time.Code)
}

func TestFinalForms(t *testing.T) {
	tests := []struct {
		name    string
		replies []string
		answer  string
		iters   int
	}{
		{"text FINAL without code", []string{"I know it.\nFINAL(Vex goes first)"}, "Vex goes first", 1},
		{"FINAL called in code", []string{code("FINAL(6 * 7)")}, "42", 1},
		{"FINAL_VAR called in code", []string{code("result = [1, 2]", "FINAL_VAR('result')")}, "[1, 2]", 1},
		{"text FINAL_VAR after the code that sets it", []string{code("n = len(context.splitlines())") + "\nFINAL_VAR(n)"}, "5", 1},
		{"text FINAL after code that succeeds", []string{code("print('checked')") + "\nFINAL(done)"}, "done", 1},
		{"FINAL in code ends the reply", []string{code("FINAL('first')") + "\n" + code("FINAL('second')")}, "first", 1},
		{"python fence", []string{"```python\nFINAL('py')\n```"}, "py", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			controller := rlmtest.Replies(tt.replies)
			r, traj := newRLM(t, controller, nil)
			res, err := r.Run(testContext(t), smallDoc, "q?")
			require.NoError(t, err)
			assert.Equal(t, tt.answer, res.Answer)
			assert.True(t, res.Final)
			assert.Equal(t, rlm.StopFinal, res.Stop)
			assert.Equal(t, tt.iters, res.Stats.Iterations)
			its := iterations(traj)
			require.NotEmpty(t, its)
			assert.True(t, its[len(its)-1].Final)
			assert.Equal(t, tt.answer, its[len(its)-1].Answer)
		})
	}
}

func TestFinalInSameReplyAsFailingCodeIsRejected(t *testing.T) {
	controller := rlmtest.Replies([]string{
		code("total = undefined_name + 1") + "\nFINAL(7)",
		"FINAL(8)",
	})
	r, traj := newRLM(t, controller, nil)

	res, err := r.Run(testContext(t), smallDoc, "q?")
	require.NoError(t, err)

	assert.Equal(t, "8", res.Answer, "the FINAL written before the failing code's result did not count")
	assert.Equal(t, 2, res.Stats.Iterations)
	feedback := lastUser(controller.Calls()[1])
	assert.Contains(t, feedback, "NameError")
	assert.Contains(t, feedback, "Your FINAL was not accepted")
	its := iterations(traj)
	require.Len(t, its, 2)
	assert.False(t, its[0].Final)
	assert.NotEmpty(t, its[0].FinalRejected)
}

func TestFinalVarOfMissingVariableIsRejected(t *testing.T) {
	controller := rlmtest.Replies([]string{"FINAL_VAR(nothing_here)", "FINAL_VAR(not a name)", "FINAL(ok)"})
	r, _ := newRLM(t, controller, nil)
	res, err := r.Run(testContext(t), smallDoc, "q?")
	require.NoError(t, err)
	assert.Equal(t, "ok", res.Answer)
	calls := controller.Calls()
	assert.Contains(t, lastUser(calls[1]), "FINAL_VAR(nothing_here) failed")
	assert.Contains(t, lastUser(calls[2]), "is not one")
}

func TestReplyWithoutCodeOrFinal(t *testing.T) {
	controller := rlmtest.Replies([]string{"Hmm, let me think about the dice.", "FINAL(3)"})
	r, traj := newRLM(t, controller, nil)
	res, err := r.Run(testContext(t), smallDoc, "q?")
	require.NoError(t, err)
	assert.Equal(t, "3", res.Answer)
	nudge := lastUser(controller.Calls()[1])
	assert.Contains(t, nudge, "no ```repl block and no final answer")
	assert.Equal(t, 0, res.Stats.CodeBlocks)
	assert.Equal(t, nudge, iterations(traj)[0].Feedback)
}

func TestOverwrittenNamesAreRestored(t *testing.T) {
	controller := rlmtest.Replies([]string{
		code("context = 'gone'", "prompt = None", "llm_query = lambda p: 'hijacked'", "del sub_call"),
		code("print(len(context), llm_query('ping'), sub_call(context[:5], 'q'))"),
		code("FINAL('ok')"),
	})
	r, traj := newRLM(t, controller, echoWorker())

	res, err := r.Run(testContext(t), smallDoc, "q?")
	require.NoError(t, err)
	require.Equal(t, "ok", res.Answer)

	blocks := codeBlocks(traj)
	require.Len(t, blocks, 3)
	assert.ElementsMatch(t, []string{"context", "prompt", "llm_query", "sub_call"}, blocks[0].Restored)
	assert.Contains(t, blocks[1].Stdout, fmt.Sprintf("%d ping", len(smallDoc)), "context and llm_query work again")
	assert.Contains(t, blocks[1].Stdout, "Matt:", "sub_call works again")
	assert.Contains(t, lastUser(controller.Calls()[1]), "restored: ")
}

func TestShowVars(t *testing.T) {
	controller := rlmtest.Replies([]string{
		code("counts = {'a': 1}", "label = 'x'", "SHOW_VARS()"),
		code("FINAL(1)"),
	})
	r, traj := newRLM(t, controller, nil)
	_, err := r.Run(testContext(t), smallDoc, "q?")
	require.NoError(t, err)
	out := codeBlocks(traj)[0].Stdout
	assert.Contains(t, out, "counts: dict (len 1)")
	assert.Contains(t, out, "label: str (len 1)")
	assert.NotContains(t, out, "context")
	assert.NotContains(t, out, "llm_query")
}

func TestHostFunctionMisuseRaisesInPython(t *testing.T) {
	controller := rlmtest.Replies([]string{
		code("try:", "    sub_call(1, 'q')", "except Exception as e:", "    print('caught:', e)"),
		code("llm_query()"),
		code("FINAL('x')"),
	})
	r, traj := newRLM(t, controller, echoWorker())
	_, err := r.Run(testContext(t), smallDoc, "q?")
	require.NoError(t, err)
	blocks := codeBlocks(traj)
	require.Len(t, blocks, 3)
	assert.Contains(t, blocks[0].Stdout, "caught:")
	assert.Contains(t, blocks[0].Stdout, "not int")
	require.NotNil(t, blocks[1].Exception)
	assert.Contains(t, blocks[1].Exception.Message, "missing the argument prompt")
}

func TestOutputCap(t *testing.T) {
	controller := rlmtest.Replies([]string{code("print('x' * 50000)"), code("FINAL(1)")})
	r, traj := newRLM(t, controller, nil, rlm.WithOutputCap(1000))
	_, err := r.Run(testContext(t), smallDoc, "q?")
	require.NoError(t, err)
	block := codeBlocks(traj)[0]
	assert.True(t, block.Truncated)
	assert.Less(t, len(block.Stdout), 2000)
	assert.Less(t, len(lastUser(controller.Calls()[1])), 3000)
}

func TestControllerErrorIsRunError(t *testing.T) {
	boom := errors.New("server on fire")
	controller := rlmtest.Func(func(context.Context, int, []rlm.Message) (string, error) { return "", boom })
	r, traj := newRLM(t, controller, nil)
	res, err := r.Run(testContext(t), smallDoc, "q?")
	require.ErrorIs(t, err, boom)
	assert.Contains(t, err.Error(), "rlm: run: controller:")
	assert.Equal(t, rlm.StopError, res.Stop)
	end, ok := traj.Result()
	require.True(t, ok)
	assert.Equal(t, rlm.StopError, end.Stop)
}

func TestRunWritesReadableTrajectory(t *testing.T) {
	var buf bytes.Buffer
	controller := rlmtest.Replies([]string{
		code("parts = context.split('\\n\\n')", "answers = sub_call(parts, 'Who acts?')", "print(answers)"),
		"The worker has answered.\nFINAL(Vex)",
	})
	worker := rlmtest.Replies([]string{"Laura, Taliesin", "Vex"})
	r, _ := newRLM(t, controller, rlmtest.Batch(worker), rlm.WithTrajectory(&buf))

	res, err := r.Run(testContext(t), smallDoc, "Who acts first?")
	require.NoError(t, err)

	traj, err := rlm.ReadTrajectory(&buf)
	require.NoError(t, err)
	got, ok := traj.Result()
	require.True(t, ok)
	assert.Equal(t, res, got, "the trajectory's result is the run's")
	types := []rlm.RecordType{}
	for _, rec := range traj.Records {
		types = append(types, rec.Type)
	}
	assert.Equal(t, []rlm.RecordType{
		rlm.RecordRunStart, rlm.RecordSubCall, rlm.RecordSubCall, rlm.RecordCodeBlock, rlm.RecordIteration,
		rlm.RecordIteration, rlm.RecordRunEnd,
	}, types)
	var page bytes.Buffer
	require.NoError(t, traj.WriteHTML(&page))
	assert.Contains(t, page.String(), "Who acts first?")
	assert.Contains(t, page.String(), "Laura, Taliesin")
}

func TestNewAndRunMisuse(t *testing.T) {
	lm := rlmtest.Replies(nil)
	_, err := rlm.New(nil, lm)
	assert.ErrorIs(t, err, rlm.ErrNoController)
	for name, opt := range map[string]rlm.Option{
		"iterations":  rlm.WithMaxIterations(0),
		"depth":       rlm.WithMaxDepth(0),
		"concurrency": rlm.WithConcurrency(0),
		"output cap":  rlm.WithOutputCap(0),
		"chunk":       rlm.WithChunkChars(0),
		"budget":      rlm.WithSubCallBudget(-1),
		"window":      rlm.WithControllerContext(-5),
	} {
		_, err := rlm.New(lm, lm, opt)
		assert.ErrorIs(t, err, rlm.ErrInvalidOption, name)
	}
	r, err := rlm.New(lm, lm)
	require.NoError(t, err)
	_, err = r.Run(context.Background(), "doc", "")
	assert.ErrorIs(t, err, rlm.ErrEmptyQuestion)
	assert.Zero(t, lm.CallCount())
}

func TestDefaultSystemPrompt(t *testing.T) {
	plain := rlm.DefaultSystemPrompt()
	assert.Contains(t, plain, "about 200000 characters")
	assert.Contains(t, plain, `answer["ready"] = True`, "the reference implementation's protocol by default")
	assert.NotContains(t, plain, "FINAL_VAR")
	assert.NotContains(t, plain, "rlm_query", "no child RLMs at depth 1")
	assert.NotContains(t, plain, "model=", "one worker: nothing to choose")
	assert.Contains(t, plain, "a block whose last line is an expression also shows")
	assert.Contains(t, plain, "You have 30 replies")
	assert.Contains(t, plain, "Sub-calls have no fixed limit")
	custom := rlm.DefaultSystemPrompt(rlm.WithChunkChars(50_000), rlm.WithMaxDepth(2), rlm.WithOutputCap(999),
		rlm.WithProtocol(rlm.ProtocolFinal), rlm.WithSubCallBudget(40), rlm.WithMaxIterations(12),
		rlm.WithWorkerTokenBudget(90_000), rlm.WithTimeLimit(5*time.Minute),
		rlm.WithTaskPreamble("Answer with \\boxed{N}."))
	assert.Contains(t, custom, "about 50000 characters")
	assert.Contains(t, custom, "rlm_query(text, query)")
	assert.Contains(t, custom, "rlm_query_batched(texts, query)")
	assert.Contains(t, custom, "cut at 999 characters")
	assert.Contains(t, custom, "FINAL_VAR(x)")
	assert.NotContains(t, custom, `answer["ready"]`)
	assert.Contains(t, custom, "You have 12 replies")
	assert.Contains(t, custom, "at most 40 sub-calls in all, child controllers and their calls included")
	assert.Contains(t, custom, "90000 tokens in all")
	assert.Contains(t, custom, "stops after 5m0s")
	assert.Contains(t, custom, "## The task\n\nAnswer with \\boxed{N}.")
}

func TestCustomSystemPrompt(t *testing.T) {
	controller := rlmtest.Replies([]string{"FINAL(1)"})
	r, _ := newRLM(t, controller, nil, rlm.WithSystemPrompt("Only answer 1."))
	_, err := r.Run(testContext(t), smallDoc, "q?")
	require.NoError(t, err)
	assert.Equal(t, "Only answer 1.", controller.Calls()[0][0].Content)
}
