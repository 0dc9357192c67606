package main

import (
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

// TestShardsPartitionTheSelection checks that the shards of a split take
// every example exactly once, and differ in size by at most one.
func TestShardsPartitionTheSelection(t *testing.T) {
	for _, count := range []int{1, 2, 3, 16} {
		owners := make([]int, 101)
		sizes := make([]int, count)
		for k := range count {
			s := Shard{Index: k, Count: count}
			for i := range owners {
				if s.Has(i) {
					owners[i]++
					sizes[k]++
				}
			}
		}
		for i, n := range owners {
			assert.Equal(t, 1, n, "example %d of %d shards", i, count)
		}
		lo, hi := sizes[0], sizes[0]
		for _, n := range sizes {
			lo, hi = min(lo, n), max(hi, n)
		}
		assert.LessOrEqual(t, hi-lo, 1, "%d shards: sizes %v", count, sizes)
	}
}
