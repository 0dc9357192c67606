package main

import (
	"fmt"
	"strconv"
	"strings"
)

// Shard is one part of an evaluation split N ways: example number i of the
// selection (counted from 0 after the filters, -offset and -n) belongs to
// shard i mod N.
//
// Why the index and not a hash of the example's id: the shards then differ
// by at most one example, and rows of one context window, which the dataset
// stores one after the other, spread over all shards, so that the long
// windows do not gather on a few. The assignment depends only on the data
// and the flags, so that every task of an array job, and every restart of
// one, computes the same. A Shard is a plain value.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// parseShard reads "k/N" with 0 ≤ k < N; "" is the whole selection (0/1).
func parseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{Index: 0, Count: 1}, nil
	}
	k, n, ok := strings.Cut(s, "/")
	index, err1 := strconv.Atoi(strings.TrimSpace(k))
	count, err2 := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err1 != nil || err2 != nil || count < 1 || index < 0 || index >= count {
		return Shard{}, fmt.Errorf("shard %q: want k/N with 0 <= k < N, such as 3/16", s)
	}
	return Shard{Index: index, Count: count}, nil
}

// String writes the shard as parseShard reads it.
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Has reports whether example number i of the selection belongs to s.
func (s Shard) Has(i int) bool { return i%s.Count == s.Index }
