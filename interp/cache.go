package interp

import (
	"fmt"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/go-rlm/rlm/llama"
)

// Cache holds what a run produced: for each captured hook point and prompt
// a matrix with one row per token position, and each prompt's logits.
// Index it by TransformerLens name or raw node name ([Cache.Get]); aliases
// of one node (blocks.3.hook_resid_pre and blocks.2.hook_resid_post) give
// the same matrix. Rows of hook_pattern span the prompt's positions, head by
// head ([Cache.Pattern] cuts one head out). A Cache is safe for concurrent
// reads; the matrices it returns are its own, so copy one before changing it.
type Cache struct {
	hooks  *Hooks
	names  []string             // captured names, as asked for
	points map[string]HookPoint // by captured name
	data   map[string][]*mat.Dense
	heads  map[string]int
	tokens [][]llama.Token
	pieces [][]string    // the tokens' text
	logits [][]float32   // per prompt, at its last position
	all    [][][]float32 // per prompt and position, with WithAllLogits
}

// Names lists the captured hook points' names, in the order they were
// selected.
func (c *Cache) Names() []string { return slices.Clone(c.names) }

// Prompts is the number of prompts of the run.
func (c *Cache) Prompts() int { return len(c.tokens) }

// Tokens returns prompt seq's tokens.
func (c *Cache) Tokens(seq int) []llama.Token { return slices.Clone(c.tokens[seq]) }

// Pieces returns prompt seq's tokens as text.
func (c *Cache) Pieces(seq int) []string { return slices.Clone(c.pieces[seq]) }

// Has reports whether the hook point was captured.
func (c *Cache) Has(name string) bool {
	_, ok := c.keyOf(name)
	return ok
}

func (c *Cache) keyOf(name string) (string, bool) {
	if c.hooks == nil {
		return "", false
	}
	p, err := c.hooks.Resolve(name)
	if err != nil {
		return "", false
	}
	key := p.key()
	_, ok := c.data[key]
	return key, ok
}

// Lookup returns the activation of the hook point for prompt seq: a
// tokens × width matrix. It is an error if the point was not captured or
// seq is out of range.
func (c *Cache) Lookup(name string, seq int) (*mat.Dense, error) {
	key, ok := c.keyOf(name)
	if !ok {
		return nil, fmt.Errorf("interp: cache: %q was not captured (the cache has %v)", name, c.names)
	}
	if seq < 0 || seq >= len(c.tokens) {
		return nil, fmt.Errorf("interp: cache: prompt %d outside [0, %d)", seq, len(c.tokens))
	}
	return c.data[key][seq], nil
}

// Get is Lookup for names the caller knows were captured: it panics
// otherwise, as indexing a missing key is a bug of the caller.
func (c *Cache) Get(name string, seq int) *mat.Dense {
	m, err := c.Lookup(name, seq)
	if err != nil {
		panic(err)
	}
	return m
}

// Heads returns the number of attention heads the hook point's rows split
// into (hook_z, hook_q, hook_k, hook_pattern), 0 for points without heads
// or not captured.
func (c *Cache) Heads(name string) int {
	key, ok := c.keyOf(name)
	if !ok {
		return 0
	}
	return c.heads[key]
}

// ResidPre is Get(ActName("resid_pre", layer), seq): the residual stream
// entering block layer.
func (c *Cache) ResidPre(layer, seq int) *mat.Dense {
	return c.Get(ActName("resid_pre", layer), seq)
}

// ResidMid is the residual stream after block layer's attention.
func (c *Cache) ResidMid(layer, seq int) *mat.Dense {
	return c.Get(ActName("resid_mid", layer), seq)
}

// ResidPost is the residual stream after block layer.
func (c *Cache) ResidPost(layer, seq int) *mat.Dense {
	return c.Get(ActName("resid_post", layer), seq)
}

// AttnOut is block layer's attention output (after W_O), derived as
// resid_mid − resid_pre.
func (c *Cache) AttnOut(layer, seq int) *mat.Dense {
	return c.Get(ActName("attn_out", layer), seq)
}

// MLPOut is block layer's MLP output.
func (c *Cache) MLPOut(layer, seq int) *mat.Dense {
	return c.Get(ActName("mlp_out", layer), seq)
}

// Pattern returns the attention pattern of one head of block layer for
// prompt seq: a tokens × tokens view into the cache, row q holding how
// much query position q attends to each key position (zero beyond q). It
// needs blocks.L.attn.hook_pattern captured, which needs a context made
// with flash attention off.
func (c *Cache) Pattern(layer, head, seq int) *mat.Dense {
	name := ActName("pattern", layer)
	m := c.Get(name, seq)
	heads := c.Heads(name)
	if head < 0 || head >= heads {
		panic(fmt.Sprintf("interp: cache: head %d outside [0, %d)", head, heads))
	}
	t := len(c.tokens[seq])
	return m.Slice(0, t, head*t, (head+1)*t).(*mat.Dense)
}

// Logits returns prompt seq's next-token logits at its last position
// (shared; copy before changing).
func (c *Cache) Logits(seq int) []float32 { return c.logits[seq] }

// LogitsAt returns the logits at position pos of prompt seq; nil unless the
// run was made [WithAllLogits].
func (c *Cache) LogitsAt(seq, pos int) []float32 {
	if c.all == nil {
		return nil
	}
	return c.all[seq][pos]
}

// Bytes is the memory the cache's matrices and logits hold.
func (c *Cache) Bytes() int64 {
	var n int64
	for _, ms := range c.data {
		for _, m := range ms {
			r, k := m.Dims()
			n += 8 * int64(r*k)
		}
	}
	for _, l := range c.logits {
		n += 4 * int64(len(l))
	}
	for _, ls := range c.all {
		for _, l := range ls {
			n += 4 * int64(len(l))
		}
	}
	return n
}
