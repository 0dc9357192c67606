package oolong

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// officialSelection is the official evaluation's selection, line for line
// in Python (src/eval/eval_script_batched.py and src/eval/utils.py): the
// model's own cap on its context (filter_by_context_length), the sort by
// context_window_id, then max_context_len and min_context_len. Python's
// sorted is stable, as Hugging Face datasets' sort is; the token counts
// come with the rows, in place of a tokenizer.
const officialSelection = `
import json, sys
req = json.load(sys.stdin)
tok_count = lambda x: req["tokens"][x["context_window_id"]]
data = [x for x in req["rows"] if tok_count(x) <= req["model_cap"]]
data = sorted(data, key=lambda x: x["context_window_id"])
for x in data:
    x["context_len"] = tok_count(x)
data = [x for x in data if x["context_len"] <= req["max_context_len"]]
data = [x for x in data if x["context_len"] > req["min_context_len"]]
json.dump([x["id"] for x in data], sys.stdout)
`

// TestSelectMatchesTheOfficialRule runs the official selection in Python
// and Select on one small split whose windows have known token counts:
// lengths on both sides of each bound, rows of one window apart in the
// file, ids that sort differently by bytes and by case, non-ASCII ids.
func TestSelectMatchesTheOfficialRule(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	lengths := []int{1, 1023, 1024, 1025, 4000, 55_000, 131_071, 131_072, 131_073, 175_000, 1_300_000}
	ids := []string{"b", "a", "B", "ä", "a-1", "a_1", "10", "9", "é", "e\u0301", "ab", "a"} // "a" twice
	tokens := map[string]int{}
	var rows []Example
	for i := range 200 {
		window := fmt.Sprintf("%s-%d", ids[rng.IntN(len(ids))], rng.IntN(8))
		if _, ok := tokens[window]; !ok {
			tokens[window] = lengths[rng.IntN(len(lengths))]
		}
		rows = append(rows, Example{ID: fmt.Sprintf("row-%03d", i), ContextWindowID: window})
	}
	for _, r := range []TokenRange{OfficialTokenRange(), {Min: 0, Max: 0}, {Min: 4000, Max: 200_000}} {
		t.Run(r.String(), func(t *testing.T) {
			max := r.Max
			if max <= 0 {
				max = 1 << 40
			}
			stdin, err := json.Marshal(map[string]any{
				"rows": rows, "tokens": tokens, "model_cap": 1 << 40,
				"min_context_len": r.Min, "max_context_len": max,
			})
			require.NoError(t, err)
			var want []string
			require.NoError(t, json.Unmarshal(runPython(t, officialSelection, stdin), &want))

			before := append([]Example(nil), rows...)
			got, err := Select(rows, r, tokens)
			require.NoError(t, err)
			assert.Equal(t, before, rows, "Select leaves its input alone")
			var gotIDs []string
			for _, e := range got {
				gotIDs = append(gotIDs, e.ID)
			}
			assert.Equal(t, want, gotIDs)
			assert.NotEmpty(t, want)
		})
	}

	_, err := Select(rows, OfficialTokenRange(), map[string]int{})
	assert.ErrorContains(t, err, "no token count for context window")
}

func TestTokenRange(t *testing.T) {
	r := OfficialTokenRange()
	assert.Equal(t, "1024 < tokens <= 131072", r.String())
	for n, want := range map[int]bool{0: false, 1024: false, 1025: true, 131072: true, 131073: false} {
		assert.Equal(t, want, r.Contains(n), "%d tokens", n)
	}
	all := TokenRange{}
	assert.True(t, all.Contains(1) && all.Contains(1<<40))
	assert.False(t, all.Contains(0), "an empty window has no more than 0 tokens")
	assert.Equal(t, "tokens > 0", all.String())
}

func TestLenientScore(t *testing.T) {
	for _, tt := range []struct {
		gold, output   string
		official, ours float64
	}{
		{"42", "42", 0, 1},                              // a bare integer: 0 officially
		{"42", " 40\n", 0, 0.75 * 0.75},                 // partial credit as if boxed
		{"42", `\boxed{42}`, 1, 1},                      // boxed: the official score
		{"42", `So \boxed{40}. Or 42.`, 0.5625, 0.5625}, // the box wins over the prose
		{"Fire Bolt, Shield", "Shield, Fire Bolt", 0, 1},
		{"Percy", " percy ", 1, 1}, // a string is a string either way
		{"42", "forty-two", 0, 0},
		{"42", "", 0, 0},
		{"42", `\boxed{42`, 0, 0}, // an unclosed box is read whole, and is no integer
	} {
		assert.Equal(t, tt.official, Score(tt.gold, tt.output), "Score(%q, %q)", tt.gold, tt.output)
		assert.Equal(t, tt.ours, LenientScore(tt.gold, tt.output), "LenientScore(%q, %q)", tt.gold, tt.output)
	}
}

func TestWindowHeader(t *testing.T) {
	for _, tt := range []struct{ text, want string }{
		{"Do this.\nMatt plays the character DM.\n\n" + EpisodeStart + "\nMatt: hi\n" + EpisodeEnd, "Do this.\nMatt plays the character DM.\n\n"},
		{EpisodeStart + "\nMatt: hi", ""},
		{"no transcript", ""},
		{"Say " + EpisodeStart + " twice.\n" + EpisodeStart + "\n", "Say " + EpisodeStart + " twice.\n"},
	} {
		assert.Equal(t, tt.want, WindowHeader(tt.text), "%q", tt.text)
	}
}
