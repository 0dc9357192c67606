package interp

import (
	"strings"

	"github.com/go-rlm/rlm/llama"
)

// layout says how an activation's values split into per-token rows. ggml
// stores a tensor with Shape[0] fastest; the token dimension is
// Activation.TokenDim. Token t's values are outer blocks of inner
// consecutive values, block o starting at inner*(t + nTok*o): one block for
// [n_embd, tokens] nodes, one per head for [head_dim, tokens, heads] (kqv)
// and [n_kv, tokens, heads] (kq_soft_max).
type layout struct {
	nTok  int // tokens along the token dimension
	inner int // values per block: the product of the dimensions below it
	outer int // blocks per token: the product of the dimensions above it
}

func layoutOf(a *llama.Activation) layout {
	l := layout{nTok: a.Shape[a.TokenDim], inner: 1, outer: 1}
	for d := 0; d < a.TokenDim; d++ {
		l.inner *= a.Shape[d]
	}
	for d := a.TokenDim + 1; d < len(a.Shape); d++ {
		l.outer *= a.Shape[d]
	}
	return l
}

// contiguous reports whether each token's values are one run in Data.
func (l layout) contiguous() bool { return l.outer == 1 }

// gather copies token t's values into dst (grown as needed), keeping the
// first keep values of each block (zero-padded where a block is shorter),
// and returns dst[:outer*keep].
func (l layout) gather(dst []float32, data []float32, t, keep int) []float32 {
	n := l.outer * keep
	if cap(dst) < n {
		dst = make([]float32, n)
	}
	dst = dst[:n]
	c := min(keep, l.inner)
	for o := 0; o < l.outer; o++ {
		start := l.inner * (t + l.nTok*o)
		copy(dst[o*keep:o*keep+c], data[start:start+c])
		clear(dst[o*keep+c : (o+1)*keep])
	}
	return dst
}

// scatter writes a row gathered with the same keep back into data.
func (l layout) scatter(data []float32, row []float32, t, keep int) {
	c := min(keep, l.inner)
	for o := 0; o < l.outer; o++ {
		start := l.inner * (t + l.nTok*o)
		copy(data[start:start+c], row[o*keep:o*keep+c])
	}
}

// TokenRow copies the values of the activation's i-th token (the token
// a.Tokens[i]) into dst, grown as needed, and returns it. For nodes whose
// token dimension is not the slowest (kqv-L is [head_dim, tokens, heads],
// kq_soft_max-L is [n_kv, tokens, heads]) the row is the token's values
// head by head, as Cache stores them (before Cache crops attention rows to
// the positions in use).
func TokenRow(dst []float32, a *llama.Activation, i int) []float32 {
	l := layoutOf(a)
	return l.gather(dst, a.Data, i, l.inner)
}

// SetTokenRow writes row, laid out as [TokenRow] returns it, back as the
// values of the activation's i-th token. In a Modify hook the new values
// flow to every later node.
func SetTokenRow(a *llama.Activation, i int, row []float32) {
	l := layoutOf(a)
	l.scatter(a.Data, row, i, l.inner)
}

// isAttentionCells reports whether the node's blocks run over KV cache cells
// rather than features: the attention scores and pattern. Cache crops these
// to the positions of the prompt.
func isAttentionCells(node string) bool {
	return strings.HasPrefix(node, "kq-") || strings.HasPrefix(node, "kq_soft_max-")
}

// headsOf returns how many heads a token's row splits into, 0 when the node
// has no head structure. [x, tokens, heads] nodes have one block per head;
// [head_dim, heads, tokens] nodes (the queries and keys) have the heads in
// Shape[1]; kqv_out-L merges the model's heads into one row.
func headsOf(a *llama.Activation, l layout, modelHeads int) int {
	switch {
	case l.outer > 1:
		return l.outer
	case a.TokenDim == 2:
		return a.Shape[1]
	case strings.HasPrefix(a.Name, "kqv_out-"):
		return modelHeads
	}
	return 0
}
