package interp_test

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/go-rlm/rlm/interp"
	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/llama/llamatest"
)

// Tests decode with one thread. ggml's worker threads spin-wait for each
// other at every graph split, and every hooked node is a split: on a small
// machine shared with other work, two threads of a tiny model waited on each
// other for seconds per prompt, one thread takes a millisecond.
const testThreads = 1

// layers of the default generated model.
var layers = llamatest.DefaultConfig().Layers

// tinyModel returns the default generated model (4 layers, n_embd 64, 4
// heads, 2 key/value heads), closed when the test ends.
func tinyModel(t testing.TB) *llama.Model {
	t.Helper()
	return loadModel(t, llamatest.Model(t, llamatest.DefaultConfig()))
}

func loadModel(t testing.TB, path string, opts ...llama.ModelOption) *llama.Model {
	t.Helper()
	m, err := llama.LoadModel(context.Background(), path, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })
	return m
}

// newContext makes a context with flash attention off (so that attention
// patterns can be hooked), closed when the test ends.
func newContext(t testing.TB, m *llama.Model, opts ...llama.ContextOption) *llama.Context {
	t.Helper()
	opts = append([]llama.ContextOption{
		llama.WithContextSize(1024),
		llama.WithThreads(testThreads, testThreads),
		llama.WithFlashAttention(llama.FlashAttentionOff),
	}, opts...)
	c, err := m.NewContext(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c
}

func tokenize(t testing.TB, m *llama.Model, texts ...string) [][]llama.Token {
	t.Helper()
	p, err := interp.Tokenize(m, texts...)
	require.NoError(t, err)
	return p
}

// maxAbsDiff is the largest |a_i - b_i|.
func maxAbsDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// maxAbs is the largest |a_i|.
func maxAbs(a []float32) float64 {
	var d float64
	for _, v := range a {
		d = max(d, math.Abs(float64(v)))
	}
	return d
}

// matMaxDiff is the largest |a_ij - b_ij|.
func matMaxDiff(a, b mat.Matrix) float64 {
	r, c := a.Dims()
	var d float64
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			d = max(d, math.Abs(a.At(i, j)-b.At(i, j)))
		}
	}
	return d
}

func mat64Add(a, b mat.Matrix) *mat.Dense {
	var s mat.Dense
	s.Add(a, b)
	return &s
}
