package llama

import (
	"testing"

	"github.com/stretchr/testify/assert"
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
