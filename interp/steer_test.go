package interp_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/go-rlm/rlm/interp"
	"github.com/go-rlm/rlm/llama"
)

func randomVector(seed uint64, n int) *mat.VecDense {
	rng := rand.New(rand.NewPCG(seed, 1))
	v := mat.NewVecDense(n, nil)
	for i := 0; i < n; i++ {
		v.SetVec(i, rng.NormFloat64())
	}
	return v
}

// TestSteeringHooksEqualControlVectors steers with a Modify hook and with
// llama.cpp's control vector: the logits agree within 1e-4.
func TestSteeringHooksEqualControlVectors(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m)
	ctx := context.Background()
	prompts := tokenize(t, m, "Caleb reads his spellbook")
	plain, err := interp.RunWithHooks(ctx, c, prompts, nil)
	require.NoError(t, err)
	for l := 1; l < layers; l++ {
		v := randomVector(uint64(l), 64)
		hooked, err := interp.RunWithHooks(ctx, c, prompts, []interp.Patch{interp.Steer(l, v, 2)})
		require.NoError(t, err)
		require.NoError(t, interp.SetSteering(c, map[int]mat.Vector{l: v}, 2))
		cv, err := interp.RunWithHooks(ctx, c, prompts, nil)
		require.NoError(t, err)
		require.NoError(t, c.ClearControlVector())
		assert.Less(t, maxAbsDiff(hooked.Logits(0), cv.Logits(0)), 1e-4, "layer %d", l)
		assert.Greater(t, maxAbsDiff(plain.Logits(0), cv.Logits(0)), 0.1, "layer %d: the steering moves the logits", l)
	}
	assert.ErrorContains(t, interp.SetSteering(c, map[int]mat.Vector{0: randomVector(0, 64)}, 1), "block 0")
	assert.Error(t, interp.SetSteering(c, map[int]mat.Vector{1: randomVector(0, 3)}, 1))
}

// TestAttachSteersGeneration generates greedily under an attached steering
// patch and under the equivalent control vector: the same text.
func TestAttachSteersGeneration(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m)
	ctx := context.Background()
	v := randomVector(7, 64)
	gen := func() string {
		g, err := c.Generate(ctx, llama.Text("Fjord says"), llama.WithMaxTokens(12))
		require.NoError(t, err)
		return g.Text
	}
	plain := gen()
	remove, err := interp.Attach(ctx, c, interp.Steer(2, v, 3))
	require.NoError(t, err)
	hooked := gen()
	remove()
	remove()
	require.NoError(t, interp.SetSteering(c, map[int]mat.Vector{2: v}, 3))
	controlled := gen()
	require.NoError(t, c.ClearControlVector())
	assert.Equal(t, controlled, hooked)
	assert.NotEqual(t, plain, hooked, "steering changes what is generated")
	assert.Equal(t, plain, gen(), "nothing is left attached")

	_, err = interp.Attach(ctx, c, interp.Zero("blocks.1.attn.hook_pattern"))
	assert.ErrorContains(t, err, "attention patterns")
}

// TestContrastVector builds a vector from a pair of prompts that differ in
// their last token only: adding it at that token turns the negative run's
// residual stream into the positive one's, and so its logits too.
func TestContrastVector(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m)
	ctx := context.Background()
	p := tokenize(t, m, "The party wins", "The party lost")
	pos, neg := p[0], p[1]
	// Make the pair differ in the last token only.
	neg = append(append([]llama.Token(nil), pos[:len(pos)-1]...), neg[len(neg)-1])
	require.NotEqual(t, pos[len(pos)-1], neg[len(neg)-1])
	const l = 1
	hook := interp.ActName("resid_post", l)
	v, err := interp.ContrastVector(ctx, c, [][]llama.Token{pos}, [][]llama.Token{neg}, hook)
	require.NoError(t, err)
	last := len(pos) - 1
	steered, err := interp.RunWithHooks(ctx, c, [][]llama.Token{neg}, []interp.Patch{interp.Steer(l, v, 1, interp.AtPositions(last))})
	require.NoError(t, err)
	assert.Less(t, maxAbsDiff(lastLogits(t, c, pos), steered.Logits(0)), 1e-4)
	assert.Greater(t, maxAbsDiff(lastLogits(t, c, neg), steered.Logits(0)), 0.1)

	// Averaged over positions, the earlier positions (identical in both
	// prompts) contribute nothing.
	mean, err := interp.ContrastVector(ctx, c, [][]llama.Token{pos}, [][]llama.Token{neg}, hook, interp.MeanOverPositions())
	require.NoError(t, err)
	var want mat.VecDense
	want.ScaleVec(1/float64(len(pos)), v)
	assert.Less(t, mat.Norm(vecSub(&want, mean), 2), 1e-6)

	_, err = interp.ContrastVector(ctx, c, nil, [][]llama.Token{neg}, hook)
	assert.Error(t, err)
}

func vecSub(a, b mat.Vector) *mat.VecDense {
	var d mat.VecDense
	d.SubVec(a, b)
	return &d
}
