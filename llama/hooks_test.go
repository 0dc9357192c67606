package llama_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/llama/llamatest"
)

func TestNodeNames(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m, llama.WithFlashAttention(llama.FlashAttentionOff))
	names, err := c.NodeNames(context.Background())
	require.NoError(t, err)
	for l := 0; l < llamatest.DefaultConfig().Layers; l++ {
		for _, n := range []string{"attn_norm", "Qcur", "Kcur", "Vcur", "kq_soft_max", "kqv_out", "ffn_inp", "ffn_norm", "ffn_out", "l_out"} {
			assert.Contains(t, names, fmt.Sprintf("%s-%d", n, l))
		}
	}
	assert.Contains(t, names, "result_norm")
	assert.Contains(t, names, "result_output")
	assert.Zero(t, seqEnd(t, c, 0), "the probe token is removed again")
	assert.Equal(t, 3, llama.LayerOf("l_out-3"))
	assert.Equal(t, -1, llama.LayerOf("result_norm"))
}

func TestObserveChangesNoLogit(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m)
	toks, err := m.Tokenize("Pike casts Cure Wounds on Grog", false, false)
	require.NoError(t, err)
	want := lastLogits(t, c, toks)

	rows := map[string]int{}
	remove, err := c.Observe("*", func(a *llama.Activation) error {
		rows[a.Name] += a.Rows()
		return nil
	})
	require.NoError(t, err)
	got := lastLogits(t, c, toks)
	assert.Zero(t, maxAbsDiff(want, got), "observing every node changes nothing")
	assert.Equal(t, len(toks), rows["l_out-0"], "one residual row per token")
	assert.Equal(t, 1, rows["l_out-3"], "the last layer keeps only the rows that asked for logits")

	remove()
	clear(rows)
	lastLogits(t, c, toks)
	assert.Empty(t, rows, "a removed hook is not called")

	_, err = c.Observe("l_out-[", func(*llama.Activation) error { return nil })
	assert.Error(t, err, "bad pattern")
}

// TestPatchResidualStream writes run A's residual stream after layer L into
// run B: from there on B computes exactly what A computed.
func TestPatchResidualStream(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m)
	clean, err := m.Tokenize("Vax rolls a 17", false, false)
	require.NoError(t, err)
	corrupt, err := m.Tokenize("Vex rolls a 3!", false, false)
	require.NoError(t, err)
	require.Len(t, corrupt, len(clean))

	for _, node := range []string{"l_out-1", "l_out-2"} {
		t.Run(node, func(t *testing.T) {
			var saved []float32
			remove, err := c.Observe(node, func(a *llama.Activation) error {
				saved = append([]float32(nil), a.Data...)
				return nil
			})
			require.NoError(t, err)
			cleanLogits := lastLogits(t, c, clean)
			remove()
			corruptLogits := lastLogits(t, c, corrupt)
			require.NotZero(t, maxAbsDiff(cleanLogits, corruptLogits))

			remove, err = c.Modify(node, func(a *llama.Activation) error {
				copy(a.Data, saved)
				return nil
			})
			require.NoError(t, err)
			patched := lastLogits(t, c, corrupt)
			remove()
			assert.Zero(t, maxAbsDiff(cleanLogits, patched), "B's logits equal A's exactly")
		})
	}
}

func TestModifyChangesLaterNodes(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m)
	toks, err := m.Tokenize("Scanlan", false, false)
	require.NoError(t, err)
	want := lastLogits(t, c, toks)
	_, err = c.Modify("l_out-0", func(a *llama.Activation) error {
		for i := range a.Data {
			a.Data[i] = 0
		}
		return nil
	})
	require.NoError(t, err)
	got := lastLogits(t, c, toks)
	assert.NotZero(t, maxAbsDiff(want, got), "zeroing the residual stream moves the logits")
}

func TestHookErrorAbortsDecode(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m)
	boom := errors.New("probe failed")
	_, err := c.Observe("ffn_out-1", func(*llama.Activation) error { return boom })
	require.NoError(t, err)
	var b llama.Batch
	b.AddSequence([]llama.Token{'a', 'b', 'c'}, 0, 0, true)
	err = c.Decode(context.Background(), &b)
	assert.ErrorIs(t, err, boom)
	assert.Zero(t, seqEnd(t, c, 0), "the failed batch is removed from the cache")

	c.ClearHooks()
	_, err = c.Observe("ffn_out-1", func(*llama.Activation) error { panic("hook bug") })
	require.NoError(t, err)
	err = c.Decode(context.Background(), &b)
	assert.ErrorContains(t, err, "hook bug", "a panicking hook becomes an error, not a crash")
}

// TestHookTokensAcrossMicroBatches checks that every row a hook sees is
// attributed to the right sequence and position, for batches that llama.cpp
// splits into micro-batches in batch order (one KV stream) and by sequence
// (one stream per sequence), against each sequence decoded alone.
func TestHookTokensAcrossMicroBatches(t *testing.T) {
	const tolerance = 1e-4
	m := tinyModel(t)
	prompts := []string{"Grog", "Keyleth and Vax climb the tower", "Trinket!", "The Briarwoods wait below"}
	var toks [][]llama.Token
	for _, p := range prompts {
		tk, err := m.Tokenize(p, false, false)
		require.NoError(t, err)
		toks = append(toks, tk)
	}
	type key struct{ seq, pos int }
	capture := func(c *llama.Context, rows map[key][]float32) {
		_, err := c.Observe("l_out-1", func(a *llama.Activation) error {
			require.Len(t, a.Tokens, a.Shape[1])
			for i, tok := range a.Tokens {
				rows[key{tok.Seq, tok.Pos}] = append([]float32(nil), a.Row(i)...)
			}
			return nil
		})
		require.NoError(t, err)
	}

	want := map[key][]float32{}
	single := newContext(t, m)
	for s, tk := range toks {
		alone := map[key][]float32{}
		capture(single, alone)
		lastLogits(t, single, tk)
		single.ClearHooks()
		for k, v := range alone {
			want[key{s, k.pos}] = v
		}
	}

	for _, unified := range []bool{false, true} {
		t.Run(fmt.Sprintf("unified=%v", unified), func(t *testing.T) {
			opts := []llama.ContextOption{llama.WithSequences(len(toks)), llama.WithMicroBatchSize(8)}
			if unified {
				opts = append(opts, llama.WithUnifiedKV())
			}
			c := newContext(t, m, opts...)
			got := map[key][]float32{}
			micro := map[int]bool{}
			_, err := c.Observe("l_out-1", func(a *llama.Activation) error {
				micro[a.MicroBatch] = true
				return nil
			})
			require.NoError(t, err)
			capture(c, got)
			var b llama.Batch
			for s, tk := range toks {
				b.AddSequence(tk, 0, s, true)
			}
			require.NoError(t, c.Decode(context.Background(), &b))
			assert.Greater(t, len(micro), 2, "the batch was split into micro-batches")
			require.Len(t, got, len(want))
			for k, w := range want {
				assert.Less(t, maxAbsDiff(w, got[k]), tolerance, "sequence %d position %d", k.seq, k.pos)
			}
		})
	}
}

// TestControlVectorMatchesHook steers layer 2 two ways, with llama.cpp's
// control vector and with a Modify hook adding the same vector to l_out-2,
// and expects the same logits.
func TestControlVectorMatchesHook(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m)
	toks, err := m.Tokenize("Caleb casts Fireball", false, false)
	require.NoError(t, err)
	plain := lastLogits(t, c, toks)

	vec := make([]float32, llamatest.DefaultConfig().Embd)
	for i := range vec {
		vec[i] = float32(i%7) / 3
	}
	require.NoError(t, c.SetControlVector(map[int][]float32{2: vec}))
	steered := lastLogits(t, c, toks)
	require.NoError(t, c.ClearControlVector())
	assert.NotZero(t, maxAbsDiff(plain, steered))
	assert.Zero(t, maxAbsDiff(plain, lastLogits(t, c, toks)), "cleared")

	remove, err := c.Modify("l_out-2", func(a *llama.Activation) error {
		for r := 0; r < a.Rows(); r++ {
			row := a.Row(r)
			for i := range row {
				row[i] += vec[i]
			}
		}
		return nil
	})
	require.NoError(t, err)
	hooked := lastLogits(t, c, toks)
	remove()
	assert.Less(t, maxAbsDiff(steered, hooked), 1e-4)

	assert.Error(t, c.SetControlVector(map[int][]float32{0: vec}), "layer 0 has no control vector")
	assert.Error(t, c.SetControlVector(map[int][]float32{1: vec[:3]}), "wrong size")
}

// TestRepeatedNodeNames hooks nodes whose names repeat within one graph
// (norm-L twice, Qcur-L three times: before the bias, after it, after RoPE)
// and nodes whose tokens are not in the usual dimension, over a batch split
// into micro-batches: every call must name its micro-batch and tokens right.
func TestRepeatedNodeNames(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m, llama.WithMicroBatchSize(4), llama.WithFlashAttention(llama.FlashAttentionOff))
	type call struct {
		micro, tokenDim int
		first, n        int // first position and count of Tokens
		shape           [4]int
	}
	calls := map[string][]call{}
	_, err := c.Observe("*-1*", func(a *llama.Activation) error {
		cl := call{micro: a.MicroBatch, tokenDim: a.TokenDim, n: len(a.Tokens), shape: a.Shape}
		if len(a.Tokens) > 0 {
			cl.first = a.Tokens[0].Pos
		}
		calls[a.Name] = append(calls[a.Name], cl)
		return nil
	})
	require.NoError(t, err)
	var b llama.Batch
	b.AddSequence([]llama.Token{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'}, 0, 0, true) // micro-batches of 4, 4, 2
	require.NoError(t, c.Decode(context.Background(), &b))

	for name, cs := range calls {
		if cs[0].n == 0 {
			// A flattened view such as the transposed V cache has no
			// token dimension: its Tokens are nil.
			continue
		}
		perMicro := len(cs) / 3
		require.Equal(t, 3*perMicro, len(cs), "%s: the same number of calls in each micro-batch", name)
		for i, cl := range cs {
			mb := i / perMicro
			assert.Equal(t, mb, cl.micro, "%s call %d", name, i)
			want := []int{4, 4, 2}[mb]
			require.Equal(t, want, cl.n, "%s call %d: tokens of micro-batch %d, shape %v", name, i, mb, cl.shape)
			assert.Equal(t, want, cl.shape[cl.tokenDim], "%s: the token dimension holds the tokens", name)
			assert.Equal(t, 4*mb, cl.first, "%s call %d", name, i)
		}
	}
	assert.Len(t, calls["Qcur-1"], 9, "Qcur-1 is three nodes")
	for _, cl := range calls["Qcur-1"] {
		if cl.shape[2] > 1 { // [head_dim, heads, tokens] after the reshape
			assert.Equal(t, 2, cl.tokenDim)
		} else { // [n_embd, tokens] from the projection
			assert.Equal(t, 1, cl.tokenDim)
		}
	}
	assert.Equal(t, 1, calls["Kcur-1 (view)"][0].tokenDim)
	assert.Len(t, calls["norm-1"], 6, "norm-1 is two nodes")
	for _, name := range []string{"l_out-1", "ffn_inp-1", "kq_soft_max-1", "kqv_out-1"} {
		assert.NotEmpty(t, calls[name], name)
		assert.Positive(t, calls[name][0].n, "%s has tokens", name)
	}
}
