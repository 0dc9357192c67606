package rlm_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/rlmtest"
)

// partsDoc is ten parts of 100 characters, each naming its number.
func partsDoc() string {
	var b strings.Builder
	for i := range 10 {
		part := fmt.Sprintf("part %d ", i)
		b.WriteString(part + strings.Repeat(".", 100-len(part)))
	}
	return b.String()
}

func TestSubCallOffsetsAndContext(t *testing.T) {
	doc := partsDoc()
	var mu sync.Mutex
	seen := map[int64]rlm.SubCallInfo{}
	worker := rlmtest.Func(func(ctx context.Context, _ int, messages []rlm.Message) (string, error) {
		info, ok := rlm.SubCallFromContext(ctx)
		if !ok {
			return "", errors.New("no sub-call info")
		}
		mu.Lock()
		seen[info.ID] = info
		mu.Unlock()
		if chunk, ok := chunkOf(ctx, doc); ok {
			return strings.Fields(chunk)[1], nil // the part's number
		}
		return "elsewhere", nil
	})
	controller := rlmtest.Replies([]string{
		code(
			"chunks = [context[i:i+200] for i in range(0, len(context), 200)]",
			"print(sub_call(chunks, 'Which part?'))",
			"print(sub_call(context[250:400], 'overlap'))",
			"print(sub_call(context[300:500], 'overlap'))",
			"print(sub_call('not in the document', 'nowhere'))",
			"print(llm_query('free prompt'))",
		),
		"FINAL(done)",
	})
	r, traj := newRLM(t, controller, worker)

	_, err := r.Run(testContext(t), doc, "q?")
	require.NoError(t, err)

	events := subCalls(traj)
	require.Len(t, events, 9)
	byID := map[int64]rlm.SubCallEvent{}
	for _, e := range events {
		byID[e.ID] = e
		assert.Equal(t, seen[e.ID], e.SubCallInfo, "the worker's context names the same sub-call as the event")
		assert.Equal(t, 1, e.Depth)
		assert.Equal(t, 1, e.Iteration)
		assert.Equal(t, 1, e.Block)
	}
	for i := range 5 {
		e := byID[int64(i+1)]
		assert.Equal(t, rlm.KindSubCall, e.Kind)
		assert.Equal(t, i*200, e.Offset)
		assert.Equal(t, 200, e.Length)
		assert.Equal(t, "Which part?", e.Query)
		assert.Equal(t, 5, e.Batch)
		assert.Equal(t, i, e.BatchIndex)
		assert.Equal(t, fmt.Sprint(2*i), e.Answer)
	}
	assert.Equal(t, 250, byID[6].Offset)
	assert.Equal(t, 300, byID[7].Offset, "an overlapping chunk is found where it is")
	assert.Equal(t, -1, byID[8].Offset)
	assert.Equal(t, "elsewhere", byID[8].Answer)
	assert.Equal(t, rlm.KindLLMQuery, byID[9].Kind)
	assert.Equal(t, "free prompt", byID[9].Query)
	assert.Equal(t, -1, byID[9].Offset)
	out := codeBlocks(traj)[0].Stdout
	assert.Contains(t, out, "['0', '2', '4', '6', '8']")
	assert.Equal(t, 9, codeBlocks(traj)[0].SubCalls, "sub-calls counted per block")
}

func TestFailedSubCallIsErrorStringAndBatchGoesOn(t *testing.T) {
	worker := rlmtest.Func(func(_ context.Context, _ int, messages []rlm.Message) (string, error) {
		if strings.Contains(lastUser(messages), "bad") {
			return "", errors.New("worker overloaded")
		}
		return "fine", nil
	})
	for name, w := range map[string]rlm.LM{"one call each": worker, "batch": rlmtest.Batch(worker)} {
		t.Run(name, func(t *testing.T) {
			controller := rlmtest.Replies([]string{
				code(
					"answers = llm_query_batched(['good 1', 'bad 2', 'good 3'])",
					"single = llm_query('bad again')",
					"print(answers)",
					"print(single)",
				),
				"FINAL(done)",
			})
			r, traj := newRLM(t, controller, w)
			res, err := r.Run(testContext(t), smallDoc, "q?")
			require.NoError(t, err)
			out := codeBlocks(traj)[0].Stdout
			assert.Contains(t, out, "['fine', 'Error: worker overloaded', 'fine']")
			assert.Contains(t, out, "Error: worker overloaded")
			assert.Nil(t, codeBlocks(traj)[0].Exception, "a failed sub-call raises nothing")
			assert.Equal(t, 4, res.Stats.SubCalls)
			assert.Equal(t, 2, res.Stats.SubCallsFailed)
			failed := 0
			for _, e := range subCalls(traj) {
				if e.Error != "" {
					failed++
					assert.Equal(t, "worker overloaded", e.Error)
				}
			}
			assert.Equal(t, 2, failed)
		})
	}
}

func TestBatchWorkerGetsBatchesOfConcurrency(t *testing.T) {
	worker := rlmtest.Batch(echoWorker())
	controller := rlmtest.Replies([]string{
		code(
			"chunks = [context[i:i+100] for i in range(0, 500, 100)]",
			"answers = sub_call(chunks, 'q')",
			"print([a.split('part ')[1][0] for a in answers])",
			"print(llm_query_batched(['x', 'y']))",
		),
		"FINAL(done)",
	})
	doc := partsDoc()
	r, traj := newRLM(t, controller, worker, rlm.WithConcurrency(2))
	_, err := r.Run(testContext(t), doc, "q?")
	require.NoError(t, err)

	batches := worker.Batches()
	sizes := []int{}
	for _, b := range batches {
		sizes = append(sizes, len(b))
	}
	assert.Equal(t, []int{2, 2, 1, 2}, sizes, "five chunks in batches of two, then the two prompts")
	assert.Equal(t, []int64{1, 2}, []int64{batches[0][0].ID, batches[0][1].ID})
	assert.Equal(t, 100, batches[0][1].Offset)
	out := codeBlocks(traj)[0].Stdout
	assert.Contains(t, out, "['0', '1', '2', '3', '4']", "chunk answers in order")
	assert.Contains(t, out, "['x', 'y']", "prompt answers in order")
}

func TestConcurrentSubCallsForPlainWorker(t *testing.T) {
	const concurrency = 4
	var mu sync.Mutex
	arrived := 0
	allIn := make(chan struct{})
	worker := rlmtest.Func(func(ctx context.Context, _ int, messages []rlm.Message) (string, error) {
		// The first `concurrency` calls wait for each other: they finish
		// only if the engine really runs that many at once.
		mu.Lock()
		arrived++
		if arrived == concurrency {
			close(allIn)
		}
		first := arrived <= concurrency
		mu.Unlock()
		if first {
			select {
			case <-allIn:
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		return strings.ToUpper(lastUser(messages)), nil
	})
	controller := rlmtest.Replies([]string{
		code("print(llm_query_batched(['a', 'b', 'c', 'd', 'e', 'f']))"),
		"FINAL(done)",
	})
	r, traj := newRLM(t, controller, worker, rlm.WithConcurrency(concurrency))
	// Were the calls made one at a time, the first would wait for the
	// others forever: a deadline turns that into a failure.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, err := r.Run(ctx, smallDoc, "q?")
	require.NoError(t, err)
	assert.Contains(t, codeBlocks(traj)[0].Stdout, "['A', 'B', 'C', 'D', 'E', 'F']")
}
