package interp_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot/vg"

	"github.com/go-rlm/rlm/interp"
	"github.com/go-rlm/rlm/llama"
)

// lastLogits decodes tokens alone into a cleared context, without hooks,
// and returns the logits at the last token.
func lastLogits(t testing.TB, c *llama.Context, tokens []llama.Token) []float32 {
	t.Helper()
	c.ClearKV()
	var b llama.Batch
	b.AddSequence(tokens, 0, 0, true)
	require.NoError(t, c.Decode(context.Background(), &b))
	logits, err := c.Logits(b.Len() - 1)
	require.NoError(t, err)
	c.ClearKV()
	return logits
}

// TestCaptureDecomposesTheResidualStream checks captures against identities
// of the architecture: resid_post = resid_mid + mlp_out exactly (one F32
// addition in the graph), resid_pre of block L+1 is resid_post of block L,
// and every layer, the last included, has a row for every position.
func TestCaptureDecomposesTheResidualStream(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m)
	prompts := tokenize(t, m, "Grog rolls a 19 to hit", "Pike heals")
	cache, err := interp.RunWithCache(context.Background(), c, prompts,
		interp.Names("blocks.*.hook_resid_post", "blocks.*.hook_resid_mid", "blocks.*.hook_mlp_out", "blocks.*.hook_attn_out", "blocks.*.hook_resid_pre"))
	require.NoError(t, err)
	require.Equal(t, 2, cache.Prompts())
	for seq, toks := range prompts {
		for l := 0; l < layers; l++ {
			post, mid, mlp := cache.ResidPost(l, seq), cache.ResidMid(l, seq), cache.MLPOut(l, seq)
			r, cols := post.Dims()
			require.Equal(t, len(toks), r, "layer %d: a row per position", l)
			require.Equal(t, 64, cols)
			for i := 0; i < r; i++ {
				for j := 0; j < cols; j++ {
					require.Equal(t, float32(mid.At(i, j)+mlp.At(i, j)), float32(post.At(i, j)), "layer %d row %d col %d", l, i, j)
				}
			}
			// hook_attn_out is resid_mid − resid_pre, so resid_pre + attn_out
			// gives resid_mid back up to rounding.
			pre, attn := cache.ResidPre(l, seq), cache.AttnOut(l, seq)
			var sum = mat64Add(pre, attn)
			assert.Less(t, matMaxDiff(sum, mid), 1e-5, "layer %d", l)
			if l > 0 {
				assert.Same(t, cache.ResidPost(l-1, seq), cache.ResidPre(l, seq), "aliases share one matrix")
			}
		}
	}
}

func TestCaptureChangesNoLogit(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m)
	prompts := tokenize(t, m, "Vex shoots twice")
	want := lastLogits(t, c, prompts[0])
	cache, err := interp.RunWithCache(context.Background(), c, prompts, interp.Names("blocks.[0-2].hook_resid_post", "blocks.*.attn.hook_pattern"))
	require.NoError(t, err)
	assert.Zero(t, maxAbsDiff(want, cache.Logits(0)))
	assert.Zero(t, maxAbsDiff(want, lastLogits(t, c, prompts[0])), "the run's hooks are gone")

	// Capturing the last layer asks for logits at every position, which
	// changes how llama.cpp multiplies the last layer's matrices: the
	// logits move by rounding only.
	cache, err = interp.RunWithCache(context.Background(), c, prompts, interp.Names("ln_final.hook_normalized"))
	require.NoError(t, err)
	assert.Less(t, maxAbsDiff(want, cache.Logits(0)), 1e-5)
}

// TestCaptureStitchesMicroBatches captures with micro-batches of 3 tokens
// and with one micro-batch, and with several prompts decoded as parallel
// sequences: the same activations come out.
func TestCaptureStitchesMicroBatches(t *testing.T) {
	m := tinyModel(t)
	prompts := tokenize(t, m, "Keyleth turns into a bear", "Percy", "Scanlan sings a song")
	names := interp.Names("blocks.*.hook_resid_post", "blocks.*.attn.hook_z", "blocks.1.attn.hook_q", "ln_final.hook_normalized")
	run := func(opts ...llama.ContextOption) *interp.Cache {
		c := newContext(t, m, opts...)
		cache, err := interp.RunWithCache(context.Background(), c, prompts, names)
		require.NoError(t, err)
		return cache
	}
	whole := run()
	for _, tc := range []struct {
		name string
		opts []llama.ContextOption
	}{
		{"micro-batches of 3", []llama.ContextOption{llama.WithMicroBatchSize(3)}},
		{"batches of 4", []llama.ContextOption{llama.WithBatchSize(4)}},
		{"parallel sequences", []llama.ContextOption{llama.WithSequences(3)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := run(tc.opts...)
			for _, name := range whole.Names() {
				for seq := range prompts {
					assert.Less(t, matMaxDiff(whole.Get(name, seq), got.Get(name, seq)), 1e-4, "%s prompt %d", name, seq)
				}
			}
			for seq := range prompts {
				assert.Less(t, maxAbsDiff(whole.Logits(seq), got.Logits(seq)), 1e-3)
			}
		})
	}
}

// TestAttentionPatterns checks each head's pattern: a row per query
// position that sums to 1 over the positions up to it and is 0 beyond.
func TestAttentionPatterns(t *testing.T) {
	m := tinyModel(t)
	for _, ubatch := range []int{512, 4} {
		t.Run(fmt.Sprintf("micro-batch %d", ubatch), func(t *testing.T) {
			c := newContext(t, m, llama.WithMicroBatchSize(ubatch), llama.WithSequences(2))
			prompts := tokenize(t, m, "Matt: roll initiative", "Laura: 18")
			cache, err := interp.RunWithCache(context.Background(), c, prompts, interp.Names("blocks.*.attn.hook_pattern"))
			require.NoError(t, err)
			for seq, toks := range prompts {
				for l := 0; l < layers; l++ {
					heads := cache.Heads(interp.ActName("pattern", l))
					require.Equal(t, 4, heads)
					for h := 0; h < heads; h++ {
						p := cache.Pattern(l, h, seq)
						r, cols := p.Dims()
						require.Equal(t, len(toks), r)
						require.Equal(t, len(toks), cols)
						for q := 0; q < r; q++ {
							var sum float64
							for k := 0; k < cols; k++ {
								v := p.At(q, k)
								if k > q {
									require.Zero(t, v, "layer %d head %d: query %d sees key %d", l, h, q, k)
								}
								require.GreaterOrEqual(t, v, 0.0)
								sum += v
							}
							require.InDelta(t, 1, sum, 1e-5, "layer %d head %d query %d", l, h, q)
						}
						assert.Equal(t, 1.0, p.At(0, 0), "the first token attends to itself alone")
					}
				}
			}
			fig, err := interp.AttentionFigure(cache.Pattern(2, 1, 0), cache.Pieces(0), "block 2, head 1")
			require.NoError(t, err)
			var buf bytes.Buffer
			require.NoError(t, fig.WritePNG(&buf, 5*vg.Inch, 5*vg.Inch))
			img, err := png.Decode(&buf)
			require.NoError(t, err)
			assert.Equal(t, 5*96, img.Bounds().Dy())
		})
	}
}

func TestEstimateMemory(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m)
	ctx := context.Background()
	prompts := tokenize(t, m, "Travis rolls", "a natural 20!")
	names := interp.Names("blocks.*.hook_resid_post", "blocks.2.mlp.hook_post", "blocks.1.attn.hook_pattern")
	est, err := interp.EstimateMemory(ctx, c, prompts, names)
	require.NoError(t, err)
	cache, err := interp.RunWithCache(ctx, c, prompts, names)
	require.NoError(t, err)
	assert.Equal(t, cache.Bytes(), est, "the estimate is exact for captures of nodes")
	n0, n1 := int64(len(prompts[0])), int64(len(prompts[1]))
	want := 8*(4*64+128)*(n0+n1) + 8*4*(n0*n0+n1*n1) + 2*4*259
	assert.Equal(t, want, est)

	_, err = interp.RunWithCache(ctx, c, prompts, names, interp.WithMemoryLimit(est-1))
	assert.ErrorIs(t, err, interp.ErrMemoryLimit)
	_, err = interp.RunWithCache(ctx, c, prompts, names, interp.WithMemoryLimit(est))
	assert.NoError(t, err)
	end, err := c.SequenceEnd(0)
	require.NoError(t, err)
	assert.Zero(t, end, "the probe token is removed")
}

func TestRunErrors(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m)
	ctx := context.Background()
	prompts := tokenize(t, m, "Vax")
	_, err := interp.RunWithCache(ctx, c, prompts, interp.Names("blocks.7.hook_resid_post"))
	assert.ErrorIs(t, err, interp.ErrUnknownHook)
	_, err = interp.RunWithCache(ctx, c, nil, interp.Names("blocks.0.hook_resid_post"))
	assert.ErrorContains(t, err, "no prompts")
	_, err = interp.RunWithCache(ctx, c, [][]llama.Token{{}}, interp.Names("blocks.0.hook_resid_post"))
	assert.ErrorContains(t, err, "empty")
	long := make([]llama.Token, 1025)
	_, err = interp.RunWithCache(ctx, c, [][]llama.Token{long}, interp.Names("blocks.0.hook_resid_post"))
	assert.ErrorContains(t, err, "1025 tokens")
	// Nodes that llama.cpp names several times cannot be told apart.
	for _, node := range []string{"norm-1", "Qcur-1", "Kcur-1", "Vcur-1", "Kcur-1 (view)", "Vcur-1 (reshaped)"} {
		_, err = interp.RunWithCache(ctx, c, prompts, interp.Names(node))
		assert.ErrorIs(t, err, interp.ErrUnknownHook, node)
		assert.ErrorContains(t, err, "cannot be matched to tokens", node)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = interp.RunWithCache(cancelled, c, prompts, interp.Names("blocks.0.hook_resid_post"))
	assert.ErrorIs(t, err, context.Canceled)

	cache, err := interp.RunWithCache(ctx, c, prompts, interp.Names("blocks.0.hook_resid_post"))
	require.NoError(t, err)
	_, err = cache.Lookup("blocks.1.hook_resid_post", 0)
	assert.ErrorContains(t, err, "not captured")
	_, err = cache.Lookup("blocks.0.hook_resid_post", 1)
	assert.ErrorContains(t, err, "outside")
	assert.Panics(t, func() { cache.Get("blocks.1.hook_resid_post", 0) })
	assert.True(t, cache.Has("l_out-0"), "raw names index the cache too")
	assert.False(t, cache.Has("blocks.9.hook_resid_post"))
	assert.False(t, math.IsNaN(cache.Get("l_out-0", 0).At(0, 0)))
}
