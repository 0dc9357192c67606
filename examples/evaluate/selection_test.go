package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/rlm/oolong"
)

// officialSelection is the official evaluation's selection, line for line
// in Python (src/eval/eval_script_batched.py): the sort by
// context_window_id (Hugging Face datasets' sort is stable, as Python's
// sorted is), then max_context_len and min_context_len on the windows'
// token counts, which come with the rows in place of a tokenizer.
const officialSelection = `
import json, sys
req = json.load(sys.stdin)
data = sorted(req["rows"], key=lambda x: x["context_window_id"])
for x in data:
    x["context_len"] = req["tokens"][x["context_window_id"]]
data = [x for x in data if x["context_len"] <= req["max_context_len"]]
data = [x for x in data if x["context_len"] > req["min_context_len"]]
json.dump([x["id"] for x in data], sys.stdout)
`

// knownLengthSplit builds rows whose context windows have known lengths in
// tokens of the generated worker, whose tokenizer has a token per byte:
// lengths on both sides of the official bounds, a window whose rows are
// apart in the file, ids in an order other than the file's.
func knownLengthSplit() (rows []oolong.Example, tokens map[string]int) {
	lengths := []int{1000, 1024, 1025, 4000, 131_071, 131_072, 131_073, 200_000}
	tokens = map[string]int{}
	for w, n := range lengths {
		id := fmt.Sprintf("%c-window", 'h'-w) // h-window, g-window, ...: the file is in reverse order
		tokens[id] = n
		line := fmt.Sprintf("Matt: window %d. Roll for initiative.\n", w)
		text := strings.Repeat(line, n/len(line)+1)[:n]
		for q := range 1 + w%3 {
			rows = append(rows, oolong.Example{
				ID: fmt.Sprintf("%s-q%d", id, q), ContextWindowID: id, ContextWindowText: text,
				Question: fmt.Sprintf("Total number of rolls? (%d)", q), Answer: "3",
				QuestionType: oolong.SingleDocRolls, Episodes: []int{w + 1}, Campaign: "campaign1",
			})
		}
	}
	// The second row of the second window comes after the third window.
	apart := slices.Concat(rows[:2], rows[3:6], rows[2:3], rows[6:])
	return apart, tokens
}

// TestSelectionIsTheOfficialRule checks the command's selection, tokens
// counted by the worker's own tokenizer, against the official evaluation's
// rule run in Python on the same rows with their known token counts: the
// default bounds, other bounds, -max-context-tokens 0. Then that -offset
// and -n cut the selection in its order, that shards split it by whole
// windows, and that a second selection counts no window again.
func TestSelectionIsTheOfficialRule(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: no official rule to compare with")
	}
	rows, tokens := knownLengthSplit()
	dir := t.TempDir()
	data := writeSplit(t, dir, rows)
	model, err := llama.LoadModel(context.Background(), workerModel(t), llama.WithVocabOnly())
	require.NoError(t, err)
	defer model.Close()
	var counted atomic.Int64 // counts run on several goroutines
	count := func(text string) (int, error) {
		counted.Add(1)
		tokens, err := model.Tokenize(text, true, true)
		return len(tokens), err
	}
	counts, err := openTokenCounts(filepath.Join(dir, tokenCountsName), count)
	require.NoError(t, err)
	defer counts.Close()

	official := func(r oolong.TokenRange) []string {
		max := r.Max
		if max <= 0 {
			max = 1 << 40
		}
		stdin, err := json.Marshal(map[string]any{"rows": rows, "tokens": tokens, "min_context_len": r.Min, "max_context_len": max})
		require.NoError(t, err)
		cmd := exec.Command(python, "-c", officialSelection)
		cmd.Stdin = bytes.NewReader(stdin)
		out, err := cmd.Output()
		require.NoError(t, err)
		var ids []string
		require.NoError(t, json.Unmarshal(out, &ids))
		return ids
	}
	ids := func(sel []selected) []string {
		var out []string
		for _, s := range sel {
			assert.Equal(t, tokens[s.window], s.length.Tokens, "window %s", s.window)
			out = append(out, s.id)
		}
		return out
	}
	c := testConfig()
	c.Data, c.QuestionTypes, c.Shard = data, nil, Shard{0, 1}
	for _, r := range []oolong.TokenRange{oolong.OfficialTokenRange(), {Min: 1024, Max: 0}, {Min: 0, Max: 131_072}, {Min: 4000, Max: 200_000}} {
		c.ContextTokens = r
		sel, _, err := selection(t.Context(), []string{data}, c, counts, 2)
		require.NoError(t, err)
		want := official(r)
		assert.NotEmpty(t, want)
		assert.Equal(t, want, ids(sel), "%s", r)
		for i, s := range sel {
			assert.Equal(t, i, s.index, "the index is the place in the selection")
		}
	}
	assert.EqualValues(t, len(tokens), counted.Load(), "each window counted once")

	// -offset and -n cut the selection in its order; shards take whole
	// windows of what is left.
	c.ContextTokens, c.Offset, c.N = oolong.OfficialTokenRange(), 1, 4
	want := official(c.ContextTokens)[1:5]
	sel, _, err := selection(t.Context(), []string{data}, c, counts, 1)
	require.NoError(t, err)
	assert.Equal(t, want, ids(sel))
	var union []string
	for k := range 2 {
		c.Shard = Shard{k, 2}
		sel, _, err := selection(t.Context(), []string{data}, c, counts, 1)
		require.NoError(t, err)
		union = append(union, ids(sel)...)
	}
	assert.ElementsMatch(t, want, union)

	// The counts are in the file: a new reader of it counts nothing.
	require.NoError(t, counts.Close())
	counted.Store(0)
	again, err := openTokenCounts(filepath.Join(dir, tokenCountsName), count)
	require.NoError(t, err)
	defer again.Close()
	c.Shard = Shard{0, 1}
	_, _, err = selection(t.Context(), []string{data}, c, again, 2)
	require.NoError(t, err)
	assert.Zero(t, counted.Load())

	// A count is of one text: another text under the same id is counted
	// anew.
	other := append([]oolong.Example(nil), rows...)
	for i := range other {
		other[i].ContextWindowText += "!"
	}
	data = writeSplit(t, t.TempDir(), other)
	c.Data = data
	sel, _, err = selection(t.Context(), []string{data}, c, again, 2)
	require.NoError(t, err)
	assert.EqualValues(t, len(tokens), counted.Load())
	for _, s := range sel {
		assert.Equal(t, tokens[s.window]+1, s.length.Tokens)
	}
}

// TestTokenCountsSurviveATornLine checks that a count cut short by a kill
// is dropped, and the window counted again.
func TestTokenCountsSurviveATornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), tokenCountsName)
	count := func(text string) (int, error) { return len(text), nil }
	counts, err := openTokenCounts(path, count)
	require.NoError(t, err)
	w, err := counts.measure("a", "hello")
	require.NoError(t, err)
	assert.Equal(t, windowLength{ID: "a", Bytes: 5, CRC: w.CRC, Chars: 5, Tokens: 5}, w)
	require.NoError(t, counts.Close())
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"context_window_id":"b","bytes":3,"crc32c":1,"chars":3,"tok`)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	calls := 0
	counts, err = openTokenCounts(path, func(text string) (int, error) { calls++; return count(text) })
	require.NoError(t, err)
	defer counts.Close()
	_, err = counts.measure("a", "hello")
	require.NoError(t, err)
	_, err = counts.measure("b", "abc")
	require.NoError(t, err)
	assert.Equal(t, 1, calls, "a is known; b's torn count is not")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, 2, bytes.Count(data, []byte("\n")))
	assert.True(t, bytes.HasSuffix(data, []byte("}\n")))

	require.NoError(t, os.WriteFile(path, []byte("not json\n"), 0o644))
	_, err = openTokenCounts(path, count)
	assert.ErrorContains(t, err, "line 1: not a window's length")
}
