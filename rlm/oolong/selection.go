package oolong

// The official evaluation chooses its rows in src/eval/eval_script_batched.py
// of github.com/abertsch72/oolong: it counts each context window's tokens
// with the evaluated model's tokenizer, keeps the windows with
// --min_context_len < tokens <= --max_context_len (1024 and 131072 by
// default) and sorts the rows by context_window_id with Hugging Face
// datasets' sort, a stable sort (Arrow's sort_indices) of the strings by
// their bytes.

import (
	"fmt"
	"slices"
	"strings"
)

// The official evaluation's default bounds on a context window's length,
// in tokens of the evaluated model: it keeps windows of more than
// MinContextTokens and at most MaxContextTokens tokens.
const (
	MinContextTokens = 1024
	MaxContextTokens = 131072
)

// TokenRange bounds a context window's length in tokens: more than Min and
// at most Max; Max ≤ 0 means no upper bound. The zero TokenRange keeps
// every window; [OfficialTokenRange] is the official evaluation's. It is a
// plain value.
type TokenRange struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

// OfficialTokenRange is the official evaluation's default range:
// 1024 < tokens ≤ 131072.
func OfficialTokenRange() TokenRange {
	return TokenRange{Min: MinContextTokens, Max: MaxContextTokens}
}

// Contains reports whether a window of n tokens is in the range.
func (r TokenRange) Contains(n int) bool { return n > r.Min && (r.Max <= 0 || n <= r.Max) }

// String writes the range as "1024 < tokens <= 131072".
func (r TokenRange) String() string {
	if r.Max <= 0 {
		return fmt.Sprintf("tokens > %d", r.Min)
	}
	return fmt.Sprintf("%d < tokens <= %d", r.Min, r.Max)
}

// SortByContextWindow sorts rows by ContextWindowID as the official
// evaluation orders a split: a stable sort of the ids by their bytes, so
// that the rows of one window keep their order in the file.
func SortByContextWindow(rows []Example) {
	slices.SortStableFunc(rows, func(a, b Example) int { return strings.Compare(a.ContextWindowID, b.ContextWindowID) })
}

// Select returns the rows the official evaluation runs, in its order: the
// rows whose context window has a token count in r, sorted by
// [SortByContextWindow]. tokens gives the count of a context window by its
// ContextWindowID; a row whose window it does not know is an error. rows is
// left as it was.
func Select(rows []Example, r TokenRange, tokens map[string]int) ([]Example, error) {
	var kept []Example
	for _, e := range rows {
		n, ok := tokens[e.ContextWindowID]
		if !ok {
			return nil, fmt.Errorf("oolong: select: no token count for context window %s (row %s)", e.ContextWindowID, e.ID)
		}
		if r.Contains(n) {
			kept = append(kept, e)
		}
	}
	SortByContextWindow(kept)
	return kept, nil
}

// WindowHeader returns what opens a context window before its first
// transcript: the instructions (which ask for the answer in \boxed{}) and
// the player-to-character map ("Matt plays the character DM."), which
// questions about a player need. It is "" when text has no transcript
// marker ([EpisodeStart]) at the start of a line.
func WindowHeader(text string) string {
	for i := 0; ; {
		j := strings.Index(text[i:], EpisodeStart)
		if j < 0 {
			return ""
		}
		if at := i + j; at == 0 || text[at-1] == '\n' {
			return text[:at]
		}
		i += j + len(EpisodeStart)
	}
}
