package main

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Shard is one part of an evaluation split N ways by context window: every
// question of a context window goes to the same shard, so that the shard
// reads the window once and shares the work its questions have in common
// (the sub-calls on its chunks, one REPL). See [Shard.Of].
//
// The assignment depends only on the selection (the data, the flags and the
// worker's tokenizer), so that every task of an array job, and every
// restart of one, computes the same. A Shard is a plain value.
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

// Of returns the examples of the selection all that belong to s, in the
// selection's order. Windows go to shards so as to balance their work:
// taking the windows from the most work to the least (ties in the order of
// the selection), each goes to the shard with the least work so far (ties
// to the lowest shard number). A window's work is its length in tokens
// times its questions in the selection: what reading it costs when no
// question shares anything.
func (s Shard) Of(all []selected) []selected {
	if s.Count <= 1 {
		return all
	}
	type window struct {
		id   string
		work int64
	}
	var windows []*window
	byID := map[string]*window{}
	for _, e := range all {
		w := byID[e.window]
		if w == nil {
			w = &window{id: e.window}
			byID[e.window] = w
			windows = append(windows, w)
		}
		w.work += int64(max(e.length.Tokens, 1))
	}
	slices.SortStableFunc(windows, func(a, b *window) int { return cmp.Compare(b.work, a.work) })
	load := make([]int64, s.Count)
	mine := map[string]bool{}
	for _, w := range windows {
		least := 0
		for k := range load {
			if load[k] < load[least] {
				least = k
			}
		}
		load[least] += w.work
		if least == s.Index {
			mine[w.id] = true
		}
	}
	var out []selected
	for _, e := range all {
		if mine[e.window] {
			out = append(out, e)
		}
	}
	return out
}
