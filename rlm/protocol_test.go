package rlm_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/rlmtest"
)

// Both protocols are accepted whichever the prompt teaches.
func TestAnswerForms(t *testing.T) {
	tests := []struct {
		name    string
		replies []string
		answer  string
	}{
		{"answer dict", []string{code(`answer["content"] = 6 * 7`, `answer["ready"] = True`)}, "42"},
		{"ready before content: content at the end of the block", []string{code(`answer["ready"] = True`, `answer["content"] = "late"`)}, "late"},
		{"answer dict replaced by a ready one", []string{code(`answer = {"content": [1, 2], "ready": True}`)}, "[1, 2]"},
		{"answer dict updated", []string{code(`answer.update(content="upd", ready=True)`)}, "upd"},
		{"content kept until ready", []string{code(`answer["content"] = "draft"`), code(`answer["ready"] = 1`)}, "draft"},
		{"FINAL in code", []string{code("FINAL(6 * 7)")}, "42"},
		{"FINAL_VAR of a name", []string{code("n = 7", "FINAL_VAR('n')")}, "7"},
		{"FINAL_VAR of a value", []string{code("FINAL_VAR({'a': 1})")}, "{'a': 1}"},
		{"FINAL_VAR of a number", []string{code("FINAL_VAR(3.5)")}, "3.5"},
		{"text FINAL", []string{"Done.\nFINAL(Vex)"}, "Vex"},
		{"bold text FINAL", []string{"Done.\n**FINAL(Vex and Percy)**"}, "Vex and Percy"},
		{"text FINAL_VAR", []string{code("total = 12") + "\nFINAL_VAR(total)"}, "12"},
		{"FINAL_VAR of a variable named answer", []string{code("answer = 'Vex'", "FINAL_VAR('answer')")}, "Vex"},
		{"fence without a language", []string{"```\nFINAL('bare')\n```"}, "bare"},
		{"py3 fence", []string{"```py3\nanswer['content'] = 'p3'; answer['ready'] = True\n```"}, "p3"},
	}
	for _, protocol := range []rlm.Protocol{rlm.ProtocolAnswer, rlm.ProtocolFinal} {
		for _, tt := range tests {
			t.Run(protocol.String()+"/"+tt.name, func(t *testing.T) {
				controller := rlmtest.Replies(tt.replies)
				r, traj := newRLM(t, controller, nil, rlm.WithProtocol(protocol))
				res, err := r.Run(testContext(t), smallDoc, "q?")
				require.NoError(t, err)
				assert.Equal(t, tt.answer, res.Answer)
				assert.True(t, res.Final)
				assert.Equal(t, rlm.StopFinal, res.Stop)
				assert.Equal(t, len(tt.replies), res.Stats.Iterations)
				its := iterations(traj)
				assert.True(t, its[len(its)-1].Final)
			})
		}
	}
}

func TestAnswerDictEndsTheReply(t *testing.T) {
	controller := rlmtest.Replies([]string{
		code(`answer["content"] = "first"`, `answer["ready"] = True`) + "\n" + code(`answer["content"] = "second"`),
	})
	r, traj := newRLM(t, controller, nil)
	res, err := r.Run(testContext(t), smallDoc, "q?")
	require.NoError(t, err)
	assert.Equal(t, "first", res.Answer)
	assert.Len(t, codeBlocks(traj), 1, "the block after the submitted answer does not run")
	assert.True(t, codeBlocks(traj)[0].Final)
}

func TestAnswerDictNotReadyIsNoAnswer(t *testing.T) {
	controller := rlmtest.Replies([]string{
		code(`answer["content"] = "maybe"`, `print(answer)`),
		code(`answer["ready"] = True`),
	})
	r, traj := newRLM(t, controller, nil)
	res, err := r.Run(testContext(t), smallDoc, "q?")
	require.NoError(t, err)
	assert.Equal(t, "maybe", res.Answer)
	assert.Equal(t, 2, res.Stats.Iterations)
	assert.Contains(t, codeBlocks(traj)[0].Stdout, "{'content': 'maybe', 'ready': False}")
}

func TestAnswerRebound(t *testing.T) {
	t.Run("answer protocol puts the dict back", func(t *testing.T) {
		controller := rlmtest.Replies([]string{
			code(`answer = "Vex"`),
			code(`print(type(answer).__name__, answer)`),
			code(`answer["content"] = "Vex"; answer["ready"] = True`),
		})
		r, traj := newRLM(t, controller, nil)
		res, err := r.Run(testContext(t), smallDoc, "q?")
		require.NoError(t, err)
		assert.Equal(t, "Vex", res.Answer)
		blocks := codeBlocks(traj)
		assert.Contains(t, blocks[0].Restored, "answer")
		assert.Contains(t, lastUser(controller.Calls()[1]), "restored: answer")
		assert.Contains(t, blocks[1].Stdout, "dict {'content': '', 'ready': False}")
	})
	t.Run("final protocol leaves the name to the code", func(t *testing.T) {
		controller := rlmtest.Replies([]string{
			code(`answer = "Vex"`),
			code(`FINAL(answer)`),
		})
		r, traj := newRLM(t, controller, nil, rlm.WithProtocol(rlm.ProtocolFinal))
		res, err := r.Run(testContext(t), smallDoc, "q?")
		require.NoError(t, err)
		assert.Equal(t, "Vex", res.Answer)
		assert.Empty(t, codeBlocks(traj)[0].Restored)
	})
}

func TestFinalVarOfUnknownName(t *testing.T) {
	controller := rlmtest.Replies([]string{
		code("found = 3", "FINAL_VAR('missing')"),
		code("FINAL_VAR('found')"),
	})
	r, traj := newRLM(t, controller, nil, rlm.WithProtocol(rlm.ProtocolFinal))
	res, err := r.Run(testContext(t), smallDoc, "q?")
	require.NoError(t, err)
	assert.Equal(t, "3", res.Answer)
	e := codeBlocks(traj)[0].Exception
	require.NotNil(t, e)
	assert.Equal(t, "NameError", e.Type)
	assert.Contains(t, e.Message, "no variable named 'missing' (variables: found)")
}

func TestProtocolInPrompts(t *testing.T) {
	for _, tt := range []struct {
		protocol rlm.Protocol
		teach    string
		last     string
	}{
		{rlm.ProtocolAnswer, `answer["ready"] = True`, `sets answer["content"] and answer["ready"] = True`},
		{rlm.ProtocolFinal, "FINAL(your answer)", "as FINAL(your answer)"},
	} {
		t.Run(tt.protocol.String(), func(t *testing.T) {
			controller := rlmtest.Replies([]string{code("x = 1"), "I give up."})
			r, traj := newRLM(t, controller, nil, rlm.WithProtocol(tt.protocol), rlm.WithMaxIterations(1))
			res, err := r.Run(testContext(t), smallDoc, "q?")
			require.NoError(t, err)
			assert.Equal(t, "I give up.", res.Answer)
			calls := controller.Calls()
			assert.Contains(t, calls[0][1].Content, tt.teach)
			assert.Contains(t, lastUser(calls[1]), tt.last)
			start := traj.Records[0].RunStart
			require.NotNil(t, start)
			assert.Equal(t, tt.protocol.String(), start.Protocol)
		})
	}
}

func TestParseProtocol(t *testing.T) {
	for _, p := range []rlm.Protocol{rlm.ProtocolAnswer, rlm.ProtocolFinal} {
		got, err := rlm.ParseProtocol(p.String())
		require.NoError(t, err)
		assert.Equal(t, p, got)
	}
	var p rlm.Protocol
	require.NoError(t, p.Set("FINAL"))
	assert.Equal(t, rlm.ProtocolFinal, p)
	_, err := rlm.ParseProtocol("submit")
	assert.ErrorIs(t, err, rlm.ErrInvalidOption)
	_, err = rlm.New(rlmtest.Replies(nil), nil, rlm.WithProtocol(rlm.Protocol(9)))
	assert.ErrorIs(t, err, rlm.ErrInvalidOption)
}

func TestNotebookDisplay(t *testing.T) {
	controller := rlmtest.Replies([]string{
		code("len(context)"),
		code("n = 2", "n * 21;"),
		code("FINAL(1)"),
	})
	r, traj := newRLM(t, controller, nil, rlm.WithProtocol(rlm.ProtocolFinal))
	_, err := r.Run(testContext(t), smallDoc, "q?")
	require.NoError(t, err)
	blocks := codeBlocks(traj)
	assert.Equal(t, fmt.Sprintf("%d\n", len(smallDoc)), blocks[0].Stdout, "a bare expression on the last line is shown")
	assert.Contains(t, lastUser(controller.Calls()[1]), fmt.Sprintf("stdout:\n%d", len(smallDoc)))
	assert.Empty(t, blocks[1].Stdout, "a trailing semicolon hides it")
	assert.Empty(t, blocks[2].Stdout, "FINAL returns None: nothing is shown")
}
