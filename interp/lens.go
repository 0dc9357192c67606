package interp

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"gonum.org/v1/gonum/mat"

	"github.com/go-rlm/rlm/llama"
)

// TokenScore is one token of a next-token distribution.
type TokenScore struct {
	Token llama.Token
	Piece string  // the token's text
	Logit float64 // the raw logit
	Prob  float64 // softmax probability over the whole vocabulary
}

// Lens is the result of a logit lens: at each layer and position, the
// tokens the residual stream would predict if the model stopped there. A
// Lens is safe for concurrent reads.
type Lens struct {
	Hooks  []string      // the hook point of each layer row, e.g. "blocks.3.hook_resid_post"
	Tokens []llama.Token // the prompt
	Pieces []string      // the prompt's tokens as text
	// Top[layer][position] holds the k most likely next tokens, most
	// likely first.
	Top [][][]TokenScore
}

// LogitLens runs prompt once, capturing the residual stream after every
// block (blocks.L.hook_resid_post), and projects each layer and position
// through the final norm and the unembedding (u, read from the same model's
// file with [LoadUnembed]), keeping the top k tokens. The last layer's rows
// are the model's own predictions.
func LogitLens(ctx context.Context, c *llama.Context, u *Unembed, prompt []llama.Token, k int) (*Lens, error) {
	const op = "interp: logit lens"
	if u == nil || k <= 0 {
		return nil, errors.New(op + ": need an Unembed and k > 0")
	}
	cache, err := RunWithCache(ctx, c, [][]llama.Token{prompt}, Names("blocks.*.hook_resid_post"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	m := c.Model()
	l := &Lens{Tokens: slices.Clone(prompt), Pieces: make([]string, len(prompt))}
	for i, t := range prompt {
		l.Pieces[i] = piece(m, t)
	}
	pieces := map[llama.Token]string{}
	for _, name := range cache.Names() {
		resid := cache.Get(name, 0)
		if _, w := resid.Dims(); w != u.EmbeddingSize() {
			return nil, fmt.Errorf("%s: the residual stream has %d values, the unembedding %d: not the same model", op, w, u.EmbeddingSize())
		}
		logits := u.Logits(resid)
		var rows [][]TokenScore
		for pos := range prompt {
			top := topK(logits.RawRowView(pos), k)
			for i := range top {
				s, ok := pieces[top[i].Token]
				if !ok {
					s = piece(m, top[i].Token)
					pieces[top[i].Token] = s
				}
				top[i].Piece = s
			}
			rows = append(rows, top)
		}
		l.Hooks = append(l.Hooks, name)
		l.Top = append(l.Top, rows)
	}
	return l, nil
}

// piece is a token's text, or its id where the model cannot render it.
func piece(m *llama.Model, t llama.Token) string {
	s, err := m.TokenPiece(t, true)
	if err != nil {
		return "<" + strconv.Itoa(int(t)) + ">"
	}
	return s
}

// topK returns the k largest logits with their softmax probabilities.
func topK(logits []float64, k int) []TokenScore {
	k = min(k, len(logits))
	maxLogit := math.Inf(-1)
	for _, v := range logits {
		maxLogit = max(maxLogit, v)
	}
	var z float64
	for _, v := range logits {
		z += math.Exp(v - maxLogit)
	}
	// A partial selection: keep the k best seen so far, sorted.
	top := make([]TokenScore, 0, k+1)
	for i, v := range logits {
		if len(top) == k && v <= top[k-1].Logit {
			continue
		}
		at, _ := slices.BinarySearchFunc(top, v, func(s TokenScore, v float64) int {
			switch {
			case s.Logit > v:
				return -1
			case s.Logit < v:
				return 1
			}
			return 0
		})
		top = slices.Insert(top, at, TokenScore{Token: llama.Token(i), Logit: v})
		if len(top) > k {
			top = top[:k]
		}
	}
	for i := range top {
		top[i].Prob = math.Exp(top[i].Logit-maxLogit) / z
	}
	return top
}

// WriteCSV writes the lens as a tidy table with a header: layer, hook,
// position, input (the prompt's token there), rank (1 is the most likely),
// token, piece, logit, prob.
func (l *Lens) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"layer", "hook", "position", "input", "rank", "token", "piece", "logit", "prob"})
	for layer, rows := range l.Top {
		for pos, top := range rows {
			for rank, s := range top {
				_ = cw.Write([]string{
					strconv.Itoa(layer), l.Hooks[layer], strconv.Itoa(pos), l.Pieces[pos], strconv.Itoa(rank + 1),
					strconv.Itoa(int(s.Token)), s.Piece,
					strconv.FormatFloat(s.Logit, 'g', -1, 64), strconv.FormatFloat(s.Prob, 'g', -1, 64),
				})
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("interp: write lens: %w", err)
	}
	return nil
}

// Figure draws the lens as TransformerLens and the logit-lens posts do: a
// cell per layer (up the y axis) and position (along the x axis, labelled
// with the prompt's tokens), colored by the top token's probability and
// labelled with its text.
func (l *Lens) Figure() (*Figure, error) {
	if len(l.Top) == 0 {
		return nil, errors.New("interp: lens figure: empty lens")
	}
	probs := mat.NewDense(len(l.Top), len(l.Tokens), nil)
	text := make([][]string, len(l.Top))
	rowLabels := make([]string, len(l.Top))
	for layer, rows := range l.Top {
		text[layer] = make([]string, len(rows))
		rowLabels[layer] = strconv.Itoa(layer)
		for pos, top := range rows {
			if len(top) > 0 {
				probs.Set(layer, pos, top[0].Prob)
				text[layer][pos] = shortPiece(top[0].Piece)
			}
		}
	}
	cols := make([]string, len(l.Pieces))
	for i, p := range l.Pieces {
		cols[i] = shortPiece(p)
	}
	return heatmap{
		m: probs, rowLabels: rowLabels, colLabels: cols,
		title:  "Logit lens: top next token and its probability after each block",
		xLabel: "position (input token)", yLabel: "layer",
		cmap: sequentialMap(), lo: 0, hi: 1, fixedRange: true, cellText: text,
	}.figure()
}

// shortPiece makes a token readable in a plot: control characters
// escaped, at most 8 characters.
func shortPiece(s string) string {
	q := strconv.Quote(s)
	q = q[1 : len(q)-1]
	if utf8.RuneCountInString(q) > 8 {
		r := []rune(q)
		q = string(r[:7]) + "…"
	}
	return q
}
