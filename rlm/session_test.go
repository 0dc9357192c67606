package rlm_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/repl"
	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/rlmtest"
)

// byQuestion is a controller whose replies depend on the question in the
// conversation's first message and on its turn within that conversation.
func byQuestion(scripts map[string][]string) *rlmtest.LM {
	return rlmtest.Func(func(_ context.Context, _ int, messages []rlm.Message) (string, error) {
		turn := 0
		for _, m := range messages {
			if m.Role == rlm.RoleAssistant {
				turn++
			}
		}
		for q, script := range scripts {
			if strings.Contains(messages[1].Content, "Question: "+q+"\n") {
				if turn < len(script) {
					return script[turn], nil
				}
				return "", fmt.Errorf("question %q: no reply %d", q, turn)
			}
		}
		return "", fmt.Errorf("no script for %q", messages[1].Content)
	})
}

func newSession(t *testing.T, r *rlm.RLM, docs ...string) *rlm.Session {
	t.Helper()
	s, err := r.NewSession(testContext(t), docs...)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

func TestSessionKeepsREPLAcrossQuestions(t *testing.T) {
	docs := []string{smallDoc, "second document", strings.Repeat("third ", 100)}
	controller := byQuestion(map[string][]string{
		"q1": {code("lengths = [len(context_0), len(context_1), len(context_2)]",
			"print(lengths, context is context_0, prompt is context_0)",
			`answer["content"] = sum(lengths); answer["ready"] = True`)},
		"q2": {code("print(len(history), history[0]['question'], history[0]['answer'], history[0]['final'])",
			"print(answer, lengths)", "print(llm_query('one'), llm_query('two'))"),
			"FINAL(two)"},
		"q3": {code("print([h['question'] for h in history])", `answer["content"] = "three"; answer["ready"] = True`)},
	})
	traj := &rlm.Trajectory{}
	r, _ := newRLM(t, controller, echoWorker())
	s := newSession(t, r, docs...)

	res1, err := s.Ask(testContext(t), "q1", rlm.WithObserver(traj.Observer()))
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprint(len(docs[0])+len(docs[1])+len(docs[2])), res1.Answer)
	assert.Zero(t, res1.Stats.REPLStarts, "the session's REPL serves the question")
	assert.Zero(t, res1.Stats.DocumentsBound)

	res2, err := s.Ask(testContext(t), "q2", rlm.WithSubCallBudget(1))
	require.NoError(t, err)
	assert.Equal(t, "two", res2.Answer)
	assert.Equal(t, rlm.StopSubCallBudget, res2.Stop, "a budget for this question only")

	res3, err := s.Ask(testContext(t), "q3")
	require.NoError(t, err)
	assert.Equal(t, "three", res3.Answer)
	assert.Equal(t, rlm.StopFinal, res3.Stop)

	calls := controller.Calls()
	q2first := calls[1]
	assert.Contains(t, q2first[1].Content, "3 documents are loaded in the REPL as `context_0` to `context_2`")
	assert.Contains(t, q2first[1].Content, "has answered 1 earlier question(s)")
	assert.Equal(t, calls[0][0], calls[len(calls)-1][0], "the same system prompt for questions with the same options")
	out := lastUser(calls[2])
	assert.Contains(t, out, "1 q1 "+res1.Answer+" True")
	assert.Contains(t, out, fmt.Sprintf("{'content': '', 'ready': False} [%d, 15, 600]", len(smallDoc)),
		"a fresh answer dict; earlier variables kept")
	assert.Contains(t, out, "one Error: sub-call budget exhausted")
	assert.Contains(t, traj.Records[0].RunStart.FirstMessage, "Question: q1")
	assert.Equal(t, 1, traj.Records[0].RunStart.Turn)
	assert.Equal(t, 3, traj.Records[0].RunStart.Documents)

	history := s.History()
	require.Len(t, history, 3)
	assert.Equal(t, "q2", history[1].Question)
	assert.Equal(t, "two", history[1].Result.Answer)
	stats := s.Stats()
	assert.Equal(t, 1, stats.REPLStarts)
	assert.Equal(t, 3, stats.DocumentsBound)
	assert.Equal(t, 3, stats.Runs)
	assert.Equal(t, res1.Stats.Iterations+res2.Stats.Iterations+res3.Stats.Iterations, stats.Iterations)
	assert.Equal(t, 1, stats.SubCalls)
}

func TestSessionREPLDiesBetweenQuestions(t *testing.T) {
	controller := byQuestion(map[string][]string{
		"q1": {code("kept = 1", whoAmI, "FINAL('done')")},
		"q2": {code("print(len(context_0), len(context), question)"), code("print(kept)"), "FINAL(done)"},
	})
	traj := &rlm.Trajectory{}
	r, _ := newRLM(t, controller, nil, rlm.WithObserver(traj.Observer()))
	s := newSession(t, r, smallDoc)
	_, err := s.Ask(testContext(t), "q1")
	require.NoError(t, err)
	killREPL(t, codeBlocks(traj)[0].Stdout)

	res, err := s.Ask(testContext(t), "q2")
	require.NoError(t, err)
	assert.Equal(t, "done", res.Answer)
	assert.Equal(t, 1, res.Stats.REPLStarts, "the REPL was restarted")
	assert.Equal(t, 1, res.Stats.DocumentsBound, "and the document bound again")
	var starts []rlm.RunStartEvent
	for _, rec := range traj.Records {
		if rec.Type == rlm.RecordRunStart {
			starts = append(starts, *rec.RunStart)
		}
	}
	require.Len(t, starts, 2)
	assert.False(t, starts[0].REPLRestarted)
	assert.True(t, starts[1].REPLRestarted)
	assert.Contains(t, starts[1].FirstMessage, "The Python process was restarted since the last question")
	var q2 []rlm.CodeBlockEvent
	for _, b := range codeBlocks(traj) {
		if b.Iteration > 0 && len(q2) < 2 && strings.Contains(b.Code, "context_0") || strings.Contains(b.Code, "print(kept)") {
			q2 = append(q2, b)
		}
	}
	require.Len(t, q2, 2)
	assert.Equal(t, fmt.Sprintf("%d %d q2\n", len(smallDoc), len(smallDoc)), q2[0].Stdout, "documents and question bound again")
	require.NotNil(t, q2[1].Exception, "variables of earlier questions are lost")
	assert.Equal(t, "NameError", q2[1].Exception.Type)
	assert.Equal(t, 2, s.Stats().REPLStarts)
}

func TestSessionQuestionFailsCleanlyWhenREPLCannotRestart(t *testing.T) {
	requirePython(t)
	// The REPL works in a directory of the test's: moved away, no Python
	// process can start there.
	scratch := filepath.Join(t.TempDir(), "scratch")
	require.NoError(t, os.Mkdir(scratch, 0o755))
	controller := byQuestion(map[string][]string{
		"q1": {code(whoAmI, "FINAL('done')")},
		"q2": {"FINAL(never asked)"},
		"q3": {code("FINAL(len(context))")},
	})
	r, traj := newRLM(t, controller, nil, rlm.WithREPLOptions(repl.WithScratchDir(scratch)))
	s := newSession(t, r, smallDoc)
	res, err := s.Ask(testContext(t), "q1")
	require.NoError(t, err)

	require.NoError(t, os.Rename(scratch, scratch+".away"))
	killREPL(t, codeBlocks(traj)[0].Stdout)
	baseline := runtime.NumGoroutine()
	res, err = s.Ask(testContext(t), "q2")
	require.Error(t, err, "the question fails")
	assert.Contains(t, err.Error(), "rlm: run: prepare:")
	assert.Equal(t, rlm.StopError, res.Stop)
	assert.Equal(t, 1, controller.CallCount(), "the controller was not asked")
	assert.True(t, waitForGoroutines(baseline))

	require.NoError(t, os.Rename(scratch+".away", scratch))
	res, err = s.Ask(testContext(t), "q3")
	require.NoError(t, err, "the next question restarts the REPL")
	assert.Equal(t, fmt.Sprint(len(smallDoc)), res.Answer)
	history := s.History()
	require.Len(t, history, 3)
	assert.NotEmpty(t, history[1].Error)
}

func TestSessionMisuse(t *testing.T) {
	requirePython(t)
	r, _ := newRLM(t, rlmtest.Replies(nil), nil)
	_, err := r.NewSession(testContext(t))
	assert.ErrorIs(t, err, rlm.ErrNoDocuments)
	s, err := r.NewSession(testContext(t), smallDoc)
	require.NoError(t, err)
	_, err = s.Ask(testContext(t), "")
	assert.ErrorIs(t, err, rlm.ErrEmptyQuestion)
	_, err = s.Ask(testContext(t), "q", rlm.WithOutputCap(10))
	assert.ErrorIs(t, err, rlm.ErrInvalidOption, "the output cap is the REPL's")
	_, err = s.Ask(testContext(t), "q", rlm.WithMaxIterations(0))
	assert.ErrorIs(t, err, rlm.ErrInvalidOption)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "twice is fine")
	_, err = s.Ask(testContext(t), "q")
	assert.ErrorIs(t, err, rlm.ErrSessionClosed)
}

func TestSessionQuestionsRunOneAtATime(t *testing.T) {
	controller := rlmtest.Func(func(_ context.Context, _ int, messages []rlm.Message) (string, error) {
		q := messages[1].Content[strings.Index(messages[1].Content, "Question: ")+10:]
		q = q[:strings.Index(q, "\n")]
		return code("mine = "+strconv.Quote(q), "import time; time.sleep(0.01)", "FINAL(mine)"), nil
	})
	r, _ := newRLM(t, controller, nil)
	s := newSession(t, r, smallDoc)
	var wg sync.WaitGroup
	answers := make([]string, 4)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := s.Ask(testContext(t), fmt.Sprint("question ", i))
			assert.NoError(t, err)
			answers[i] = res.Answer
		}()
	}
	wg.Wait()
	for i, a := range answers {
		assert.Equal(t, fmt.Sprint("question ", i), a, "no question saw another's variables mid-way")
	}
	assert.Len(t, s.History(), 4)
}

func TestSessionAsyncHandleOutlivesQuestion(t *testing.T) {
	controller := byQuestion(map[string][]string{
		"q1": {code("h = llm_query_async('kept')", "h.result()", "FINAL('started')")},
		"q2": {code("FINAL(h.result())")},
	})
	r, _ := newRLM(t, controller, echoWorker())
	s := newSession(t, r, smallDoc)
	_, err := s.Ask(testContext(t), "q1")
	require.NoError(t, err)
	res, err := s.Ask(testContext(t), "q2")
	require.NoError(t, err)
	assert.Equal(t, "kept", res.Answer, "a finished handle still answers in a later question")
}

func TestSessionTrajectoryPage(t *testing.T) {
	controller := byQuestion(map[string][]string{
		"first?":  {code("FINAL('one')")},
		"second?": {code("FINAL('two')")},
	})
	r, traj := newRLM(t, controller, nil)
	s := newSession(t, r, smallDoc)
	for _, q := range []string{"first?", "second?"} {
		_, err := s.Ask(testContext(t), q)
		require.NoError(t, err)
	}
	var page bytes.Buffer
	require.NoError(t, traj.WriteHTML(&page))
	html := page.String()
	assert.True(t, strings.Contains(html, "RLM trajectory · question 1"), "each question has its section")
	assert.True(t, strings.Contains(html, "RLM trajectory · question 2"))
	assert.Less(t, strings.Index(html, "first?"), strings.Index(html, "second?"))
	res, ok := traj.Result()
	require.True(t, ok)
	assert.Equal(t, "one", res.Answer, "Result is the first root run's")
}

// TestSessionIndependentQuestions checks that with WithIndependentQuestions
// a question sees neither the variables and imports of the one before nor
// a history, while the REPL and the documents stay.
func TestSessionIndependentQuestions(t *testing.T) {
	controller := byQuestion(map[string][]string{
		"q1": {code("import json", "kept = json.dumps([1])", "def helper(): return 1", `answer["content"] = kept; answer["ready"] = True`)},
		"q2": {code("import sys",
			"print(sorted(n for n in ('kept', 'helper', 'json') if n in globals()), len(history), len(context), sys.version_info[0])"),
			code(`answer["content"] = "two"; answer["ready"] = True`)},
	})
	r, _ := newRLM(t, controller, echoWorker(), rlm.WithIndependentQuestions())
	s := newSession(t, r, smallDoc)
	res1, err := s.Ask(testContext(t), "q1")
	require.NoError(t, err)
	assert.Equal(t, "[1]", res1.Answer)
	res2, err := s.Ask(testContext(t), "q2")
	require.NoError(t, err)
	assert.Equal(t, "two", res2.Answer)

	calls := controller.Calls()
	assert.NotContains(t, calls[1][1].Content, "earlier question", "the controller is not told of earlier questions")
	assert.Contains(t, lastUser(calls[2]), fmt.Sprintf("[] 0 %d 3", len(smallDoc)),
		"no variable, import or history of q1; the document still bound")
	assert.Equal(t, 1, s.Stats().REPLStarts, "one REPL for both")
}
