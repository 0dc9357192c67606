package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseShard(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Shard
		ok   bool
	}{
		{"", Shard{0, 1}, true},
		{"0/1", Shard{0, 1}, true},
		{"3/16", Shard{3, 16}, true},
		{" 15 / 16 ", Shard{15, 16}, true},
		{"16/16", Shard{}, false},
		{"-1/4", Shard{}, false},
		{"1/0", Shard{}, false},
		{"3", Shard{}, false},
		{"a/b", Shard{}, false},
	} {
		got, err := parseShard(tt.in)
		if !tt.ok {
			assert.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got)
		again, err := parseShard(got.String())
		require.NoError(t, err)
		assert.Equal(t, got, again, "String writes what parseShard reads")
	}
}

// TestShardsPartitionTheSelection checks that the shards of a selection
// take every example exactly once, each context window whole, and that
// their work differs by no more than the largest window's.
func TestShardsPartitionTheSelection(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var all []selected
	for w := range 40 {
		tokens := 1000 + rng.IntN(200_000)
		if w%7 == 0 {
			tokens = 60_000 // windows of equal work
		}
		for range 1 + rng.IntN(12) {
			all = append(all, selected{index: len(all), id: fmt.Sprint("q", len(all)),
				window: fmt.Sprint("w", w), length: windowLength{Tokens: tokens}})
		}
	}
	work := func(es []selected) (total, largest int) {
		byWindow := map[string]int{}
		for _, e := range es {
			total += e.length.Tokens
			byWindow[e.window] += e.length.Tokens
		}
		for _, w := range byWindow {
			largest = max(largest, w)
		}
		return total, largest
	}
	_, largest := work(all)
	for _, count := range []int{1, 2, 3, 16} {
		owner := map[string]int{}
		windowOwner := map[string]int{}
		lo, hi := math.MaxInt, 0
		for k := range count {
			mine := Shard{Index: k, Count: count}.Of(all)
			assert.Equal(t, mine, Shard{Index: k, Count: count}.Of(all), "the same every time")
			assert.True(t, slices.IsSortedFunc(mine, func(a, b selected) int { return a.index - b.index }), "in the selection's order")
			for _, e := range mine {
				owner[e.id]++
				if other, ok := windowOwner[e.window]; ok {
					assert.Equal(t, other, k, "window %s is split", e.window)
				}
				windowOwner[e.window] = k
			}
			total, _ := work(mine)
			lo, hi = min(lo, total), max(hi, total)
		}
		assert.Len(t, owner, len(all), "%d shards: every example", count)
		for id, n := range owner {
			assert.Equal(t, 1, n, "%d shards: example %s once", count, id)
		}
		assert.LessOrEqual(t, hi-lo, largest, "%d shards: work %d to %d", count, lo, hi)
	}
}
