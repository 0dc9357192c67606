package rlm_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/rlmtest"
)

func TestSubCallCache(t *testing.T) {
	script := []string{
		code("print(sub_call([context[:20], context[20:40]], 'who?'))", "print(llm_query('free'))"),
		"FINAL(done)",
	}
	worker := echoWorker()
	cache := rlm.NewMemoryCache()
	var journal bytes.Buffer
	cache.SetJournal(&journal)

	first, traj1 := newRLM(t, rlmtest.Replies(script), worker, rlm.WithSubCallCache(cache))
	res1, err := first.Run(testContext(t), smallDoc, "q?")
	require.NoError(t, err)
	assert.Equal(t, 3, worker.CallCount())
	assert.Zero(t, res1.Stats.SubCallCacheHits)
	assert.Equal(t, 3, cache.Len())

	// A run in a new process: the journal is all it keeps.
	loaded, err := rlm.ReadMemoryCache(bytes.NewReader(journal.Bytes()))
	require.NoError(t, err)
	assert.Equal(t, 3, loaded.Len())
	second, traj2 := newRLM(t, rlmtest.Replies(script), worker, rlm.WithSubCallCache(loaded), rlm.WithSubCallBudget(1))
	res2, err := second.Run(testContext(t), smallDoc, "q?")
	require.NoError(t, err)
	assert.Equal(t, 3, worker.CallCount(), "every answer came from the cache")
	assert.Equal(t, 3, res2.Stats.SubCallCacheHits)
	assert.Equal(t, 3, res2.Stats.SubCalls)
	assert.Equal(t, rlm.StopFinal, res2.Stop, "cached answers spend no budget")
	assert.Equal(t, codeBlocks(traj1)[0].Stdout, codeBlocks(traj2)[0].Stdout, "the same answers")
	for _, e := range subCalls(traj2) {
		assert.True(t, e.Cached)
	}
}

func TestSubCallCacheKeys(t *testing.T) {
	msgs := []rlm.Message{{Role: rlm.RoleUser, Content: "hi"}}
	base := rlm.SubCallKey("default", "m1", msgs)
	assert.Equal(t, base, rlm.SubCallKey("default", "m1", []rlm.Message{{Role: rlm.RoleUser, Content: "hi"}}))
	assert.NotEqual(t, base, rlm.SubCallKey("big", "m1", msgs), "another worker")
	assert.NotEqual(t, base, rlm.SubCallKey("default", "m2", msgs), "other sampling")
	assert.NotEqual(t, base, rlm.SubCallKey("default", "m1", []rlm.Message{{Role: rlm.RoleSystem, Content: "hi"}}))

	// A worker whose fingerprint changed misses what the old one stored.
	cache := rlm.NewMemoryCache()
	script := []string{code("print(llm_query('x'))"), "FINAL(done)"}
	for _, fp := range []string{"temperature 0", "temperature 0.7", "temperature 0"} {
		worker := rlmtest.Func(func(_ context.Context, _ int, _ []rlm.Message) (string, error) { return fp, nil },
			rlmtest.WithFingerprint(fp))
		r, traj := newRLM(t, rlmtest.Replies(script), worker, rlm.WithSubCallCache(cache))
		_, err := r.Run(testContext(t), smallDoc, "q?")
		require.NoError(t, err)
		assert.Contains(t, codeBlocks(traj)[0].Stdout, fp)
	}
	assert.Equal(t, 2, cache.Len())
}

func TestReadMemoryCache(t *testing.T) {
	good := `{"key":"a","answer":"1"}` + "\n" + `{"key":"b","answer":"2"}` + "\n"
	c, err := rlm.ReadMemoryCache(strings.NewReader(good + `{"key":"c","ans`))
	require.NoError(t, err, "a last line cut short by a crash is skipped")
	assert.Equal(t, 2, c.Len())
	_, err = rlm.ReadMemoryCache(strings.NewReader("not json\n" + good))
	assert.Error(t, err)
	var out bytes.Buffer
	_, err = c.WriteTo(&out)
	require.NoError(t, err)
	back, err := rlm.ReadMemoryCache(&out)
	require.NoError(t, err)
	got, ok := back.Get("b")
	assert.True(t, ok)
	assert.Equal(t, "2", got)
}

func TestTaskPreambleAndDocumentHeader(t *testing.T) {
	doc := "INSTRUCTIONS: answer in \\boxed{}.\nMatt plays DM.\n\n[START OF EPISODE]\nMatt: Hello.\n[END OF EPISODE]"
	controller := rlmtest.Replies([]string{"FINAL(1)"})
	r, _ := newRLM(t, controller, nil,
		rlm.WithTaskPreamble("Answers are scored by exact match; box them."),
		rlm.WithDocumentHeader(func(d string) string {
			head, _, _ := strings.Cut(d, "[START OF EPISODE]")
			return strings.TrimSpace(head)
		}))
	_, err := r.Run(testContext(t), doc, "q?")
	require.NoError(t, err)
	first := controller.Calls()[0]
	assert.Contains(t, first[0].Content, "## The task\n\nAnswers are scored by exact match; box them.")
	assert.Contains(t, first[1].Content, "It begins:\n<<<\nINSTRUCTIONS: answer in \\boxed{}.\nMatt plays DM.\n>>>")
	assert.NotContains(t, first[1].Content, "Hello", "only the header is shown")
}
