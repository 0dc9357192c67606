package llama

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/llama/llamatest"
)

func TestCompleteUTF8(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"abc", 3},
		{"h\xc3", 1},         // first byte of é: wait for the second
		{"h\xc3\xa9", 3},     // é complete
		{"\xe2\x82", 0},      // two of the three bytes of €
		{"x\xe2\x82\xac", 4}, // € complete
		{"\xf0\x9f\x98", 0},  // three of the four bytes of 😀
		{"\xf0\x9f\x98\x80", 4},
		{"a\xbb", 2}, // a stray continuation byte can never complete: emit it
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, completeUTF8([]byte(tt.in)), "%q", tt.in)
	}
}

func TestPartialStop(t *testing.T) {
	stops := []string{"</answer>", "STOP"}
	assert.Equal(t, 0, partialStop([]byte("hello"), stops))
	assert.Equal(t, 2, partialStop([]byte("hello</"), stops))
	assert.Equal(t, 3, partialStop([]byte("xxSTO"), stops))
	assert.Equal(t, 8, partialStop([]byte("a</answer"), stops))
	assert.Equal(t, 0, partialStop([]byte("STOP"), stops), "a whole stop is not a partial one")
}

func TestIndexStop(t *testing.T) {
	stops := []string{"END", "\n\n"}
	assert.Equal(t, -1, indexStop([]byte("no stop here"), stops, 0))
	assert.Equal(t, 3, indexStop([]byte("abcEND"), stops, 0))
	assert.Equal(t, 1, indexStop([]byte("a\n\nEND"), stops, 0), "the earliest stop wins")
	assert.Equal(t, 6, indexStop([]byte("ENDxx END"), stops, 4), "matches before from were already checked")
}

func TestPlanMicroBatchesInOrder(t *testing.T) {
	var b Batch
	for i := 0; i < 10; i++ {
		b.Add(Token(i), i, 0, false)
	}
	assert.Equal(t, [][]int{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}}, planMicroBatches(&b, 4, false))
}

func TestPlanMicroBatchesEqualSplit(t *testing.T) {
	// Three sequences of 5, 2 and 3 tokens, one KV stream each: llama.cpp
	// takes the same number of tokens from every sequence per micro-batch,
	// concatenated sequence by sequence.
	var b Batch
	b.AddSequence([]Token{1, 2, 3, 4, 5}, 0, 0, false)
	b.AddSequence([]Token{1, 2}, 0, 1, false)
	b.AddSequence([]Token{1, 2, 3}, 0, 2, false)
	plan := planMicroBatches(&b, 8, true)
	assert.Equal(t, [][]int{
		{0, 1, 5, 6, 7, 8}, // two of each: a third round would make 9 > 8 tokens
		{2, 3, 4},          // sequence 1 is done, and 0 and 2 are not consecutive ids
		{9},
	}, plan)
	// Every token is planned exactly once, in batch order within a sequence.
	seen := map[int]bool{}
	for _, mb := range plan {
		assert.LessOrEqual(t, len(mb), 8)
		for _, i := range mb {
			assert.False(t, seen[i], "token %d planned twice", i)
			seen[i] = true
		}
	}
	assert.Len(t, seen, b.Len())
}

// TestAttributionCheckFailsWrongPlans makes the micro-batch plan wrong in
// ways that each check alone can see, and expects the decode to fail with
// ErrAttribution instead of hooks receiving rows under the wrong tokens.
func TestAttributionCheckFailsWrongPlans(t *testing.T) {
	m, err := LoadModel(context.Background(), llamatest.Model(t, llamatest.DefaultConfig()))
	require.NoError(t, err)
	defer m.Close()
	same := []Token{'R', 'o', 'l', 'l'}
	tests := []struct {
		name    string
		unified bool
		batch   func(b *Batch)
		wrong   func(plan [][]int) [][]int
		want    string
	}{{
		name:  "rows swapped within a sequence",
		batch: func(b *Batch) { b.AddSequence([]Token{'a', 'b', 'c'}, 0, 0, true) },
		wrong: func(plan [][]int) [][]int { plan[0][0], plan[0][1] = plan[0][1], plan[0][0]; return plan },
		want:  "holds token",
	}, {
		name:  "positions shifted",
		batch: func(b *Batch) { b.AddSequence([]Token{'a', 'a', 'a'}, 0, 0, true) },
		wrong: func(plan [][]int) [][]int { plan[0][0], plan[0][2] = plan[0][2], plan[0][0]; return plan },
		want:  "position",
	}, {
		// Two sequences with the same tokens at the same positions: only
		// the KV stream each row is stored in tells them apart.
		name: "sequences swapped",
		batch: func(b *Batch) {
			b.AddSequence(same, 0, 0, true)
			b.AddSequence(same, 0, 1, true)
		},
		wrong: func(plan [][]int) [][]int {
			n := len(same)
			mb := plan[0]
			plan[0] = append(append([]int(nil), mb[n:]...), mb[:n]...)
			return plan
		},
		want: "stored for sequence",
	}, {
		// One KV stream: the same again, told apart by which rows keep
		// their logits.
		name:    "sequences swapped, outputs differ",
		unified: true,
		batch: func(b *Batch) {
			b.AddSequence(same, 0, 0, true)
			b.AddSequence(same, 0, 1, false)
		},
		wrong: func(plan [][]int) [][]int {
			n := len(same)
			mb := plan[0]
			plan[0] = append(append([]int(nil), mb[n:]...), mb[:n]...)
			return plan
		},
		want: "keeps rows",
	}, {
		name:  "one micro-batch too few",
		batch: func(b *Batch) { b.AddSequence([]Token{'a', 'b', 'c'}, 0, 0, true) },
		wrong: func(plan [][]int) [][]int { return [][]int{plan[0][:1]} },
		want:  "computes 3 tokens, 1 planned",
	}, {
		name:  "one micro-batch too many",
		batch: func(b *Batch) { b.AddSequence([]Token{'a', 'b', 'c'}, 0, 0, true) },
		wrong: func(plan [][]int) [][]int { return append(plan, []int{0}) },
		want:  "micro-batches",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []ContextOption{WithContextSize(256), WithSequences(2), WithThreads(1, 1)}
			if tt.unified {
				opts = append(opts, WithUnifiedKV())
			}
			c, err := m.NewContext(opts...)
			require.NoError(t, err)
			defer c.Close()
			calls := 0
			_, err = c.Observe("l_out-1", func(*Activation) error { calls++; return nil })
			require.NoError(t, err)
			var b Batch
			tt.batch(&b)
			require.NoError(t, c.Decode(context.Background(), &b), "the right plan passes")
			require.Positive(t, calls)
			require.NoError(t, c.ClearKV())

			microBatchPlan = func(b *Batch, n int, equal bool) [][]int { return tt.wrong(planMicroBatches(b, n, equal)) }
			defer func() { microBatchPlan = planMicroBatches }()
			err = c.Decode(context.Background(), &b)
			require.ErrorIs(t, err, ErrAttribution)
			assert.ErrorContains(t, err, tt.want)
			end, err := c.SequenceEnd(0)
			require.NoError(t, err)
			assert.Zero(t, end, "the failed batch is taken back out of the cache")
		})
	}
}
