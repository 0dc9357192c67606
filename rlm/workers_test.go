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

// named returns a worker that answers with its name and the last message.
func named(name string, opts ...rlmtest.Option) *rlmtest.LM {
	return rlmtest.Func(func(_ context.Context, _ int, messages []rlm.Message) (string, error) {
		return name + ":" + lastUser(messages), nil
	}, opts...)
}

func TestNamedWorkers(t *testing.T) {
	small, big := named("small"), named("big")
	controller := rlmtest.Replies([]string{
		code(
			"print(llm_query('a'))",
			"print(llm_query('b', model='big'))",
			"print(llm_query_batched(['c', 'd'], model='big'))",
			"print(sub_call([context[:4], context[4:8]], 'q', model='big'))",
			"print(llm_query_async('e', model='big').result())",
			"print(rlm_query('f', model='default'))",
		),
		code("llm_query('x', model='huge')"),
		code("FINAL('ok')"),
	})
	r, traj := newRLM(t, controller, small, rlm.WithWorker("big", big))
	res, err := r.Run(testContext(t), smallDoc, "q?")
	require.NoError(t, err)
	require.Equal(t, "ok", res.Answer)

	out := codeBlocks(traj)[0].Stdout
	assert.Contains(t, out, "small:a\n")
	assert.Contains(t, out, "big:b\n")
	assert.Contains(t, out, "['big:c', 'big:d']")
	assert.Contains(t, out, "big:Text:")
	assert.Contains(t, out, "big:e\n")
	assert.Contains(t, out, "small:f\n")
	assert.Equal(t, 2, small.CallCount())
	assert.Equal(t, 6, big.CallCount())

	models := map[string]int{}
	for _, e := range subCalls(traj) {
		models[e.Model]++
	}
	assert.Equal(t, map[string]int{"": 2, "big": 6}, models, "the default worker is unnamed in events")
	assert.Equal(t, 2, res.Stats.Workers["default"].Calls)
	assert.Equal(t, 6, res.Stats.Workers["big"].Calls)
	assert.Equal(t, 8, res.Stats.Worker.Calls)

	unknown := codeBlocks(traj)[1].Exception
	require.NotNil(t, unknown, "an unknown model is an exception the controller sees")
	assert.Contains(t, unknown.Message, `unknown model "huge": the workers are default, big`)
	assert.Contains(t, lastUser(controller.Calls()[2]), `unknown model "huge"`)
	assert.Equal(t, 8, res.Stats.SubCalls, "the refused call made no sub-call")

	system := controller.Calls()[0][0].Content
	assert.Contains(t, system, "takes `model=` to choose one: `\"default\"`, `\"big\"`")
}

func TestWorkerOptionMisuse(t *testing.T) {
	lm := rlmtest.Replies(nil)
	for name, opt := range map[string]rlm.Option{
		"nil":          rlm.WithWorker("x", nil),
		"empty name":   rlm.WithWorker("", lm),
		"default":      rlm.WithWorker(rlm.DefaultWorker, lm),
		"quote":        rlm.WithWorker(`a"b`, lm),
		"compaction":   rlm.WithCompaction(1.5),
		"compaction<0": rlm.WithCompaction(-0.1),
	} {
		_, err := rlm.New(lm, lm, opt)
		assert.ErrorIs(t, err, rlm.ErrInvalidOption, name)
	}
	_, err := rlm.New(lm, lm, rlm.WithWorker("a", lm), rlm.WithWorker("a", lm))
	assert.ErrorIs(t, err, rlm.ErrInvalidOption, "a name given twice")
}

func TestBudgetsAndLimitsInPrompt(t *testing.T) {
	worker := echoWorker()
	limited := named("fast", rlmtest.WithLimits(rlm.Limits{ContextTokens: 4096, ReplyTokens: 512, Batch: 8}))
	controller := rlmtest.Replies([]string{
		code("print(llm_query('a'))"),
		code("print(llm_query('b'))"),
		"FINAL(done)",
	})
	r, _ := newRLM(t, controller, limited, rlm.WithWorker("plain", worker),
		rlm.WithSubCallBudget(5), rlm.WithMaxIterations(4), rlm.WithConcurrency(4),
		rlm.WithWorkerTokenBudget(1000))
	_, err := r.Run(testContext(t), smallDoc, "q?")
	require.NoError(t, err)
	calls := controller.Calls()
	system := calls[0][0].Content
	fit := (4096 - 512 - 200) * 3
	assert.Contains(t, system, "You may make at most 5 sub-calls in all;")
	assert.Contains(t, system, "The worker `\"default\"` reads at most about 10152 characters in one call (its context holds 4096 tokens, prompt and answer together), and decodes up to 4 calls at once")
	assert.Equal(t, 10152, fit)
	assert.Contains(t, system, "chunks of about 10152 characters", "the chunk size fits the worker")
	assert.NotContains(t, system, "The worker `\"plain\"`", "a worker without limits gets no line")
	assert.Contains(t, system, "may read and write 1000 tokens in all")
	assert.Contains(t, lastUser(calls[1]), "That was reply 1 of 4. Left: 3 replies, 4 sub-calls, ")
	assert.Contains(t, lastUser(calls[2]), "Left: 2 replies, 3 sub-calls, ")
}

func TestControllerContextFromLimits(t *testing.T) {
	var replies []string
	for range 6 {
		replies = append(replies, code("print(' '.join(['word'] * 400))"))
	}
	controller := rlmtest.Replies(append(replies, "FINAL(done)"),
		rlmtest.WithLimits(rlm.Limits{ContextTokens: 2000, ReplyTokens: 500}))
	r, traj := newRLM(t, controller, nil, rlm.WithCompaction(0))
	_, err := r.Run(testContext(t), smallDoc, "q?")
	require.NoError(t, err)
	shortened := 0
	for _, it := range iterations(traj) {
		shortened += it.Shortened
	}
	assert.Positive(t, shortened, "a controller's own context limits its conversation")
}

func TestRLMQueryBatched(t *testing.T) {
	t.Run("at the last depth: worker calls", func(t *testing.T) {
		controller := rlmtest.Replies([]string{
			code("print(rlm_query_batched(['one', 'two'], 'what?'))", "print(rlm_query_batched(['three']))"),
			"FINAL(done)",
		})
		r, traj := newRLM(t, controller, rlmtest.Batch(echoWorker()))
		res, err := r.Run(testContext(t), smallDoc, "q?")
		require.NoError(t, err)
		assert.Equal(t, 1, res.Stats.Runs)
		out := codeBlocks(traj)[0].Stdout
		assert.Contains(t, out, `one\n"""\n\nQuestion: what?', 'Text:`)
		assert.Contains(t, out, "['three']")
		for _, e := range subCalls(traj) {
			assert.Equal(t, rlm.KindRLMQueryBatched, e.Kind)
		}
	})
	t.Run("with depth: child RLMs in parallel", func(t *testing.T) {
		controller := rlmtest.Func(func(_ context.Context, _ int, messages []rlm.Message) (string, error) {
			if strings.Contains(messages[1].Content, "Question: Who speaks?") {
				return code("FINAL(context.split(':')[0])"), nil
			}
			if len(messages) == 2 {
				return code("parts = context.split('\\n')[:3]", "print(rlm_query_batched(parts, 'Who speaks?'))"), nil
			}
			return "FINAL(done)", nil
		})
		r, traj := newRLM(t, controller, echoWorker(), rlm.WithMaxDepth(2))
		res, err := r.Run(testContext(t), smallDoc, "q?")
		require.NoError(t, err)
		assert.Equal(t, 4, res.Stats.Runs)
		assert.Equal(t, 4, res.Stats.REPLStarts, "each child has its own REPL")
		var root []rlm.CodeBlockEvent
		for _, b := range codeBlocks(traj) {
			if b.Run == 0 {
				root = append(root, b)
			}
		}
		require.NotEmpty(t, root)
		assert.Contains(t, root[0].Stdout, "['Matt', 'Laura', 'Taliesin']")
		children := 0
		for _, e := range subCalls(traj) {
			if e.Kind == rlm.KindRLMQueryBatched {
				children++
				assert.Positive(t, e.ChildRun)
				assert.Equal(t, 3, e.Batch)
			}
		}
		assert.Equal(t, 3, children)
	})
}
