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

func TestFitLinearRecoversExactWeights(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, d = 50, 8
	x := mat.NewDense(n, d, nil)
	w := randomVector(3, d)
	y := make([]float64, n)
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			x.Set(i, j, rng.NormFloat64())
		}
		y[i] = mat.Dot(x.RowView(i), w) + 2.5
	}
	for _, tc := range []struct {
		name string
		opts []interp.ProbeOption
		tol  float64
	}{
		{"least squares", nil, 1e-9},
		{"ridge", []interp.ProbeOption{interp.WithL2(1e-6)}, 1e-5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := interp.FitLinear(x, y, tc.opts...)
			require.NoError(t, err)
			assert.Less(t, mat.Norm(vecSub(p.Weights, w), 2), tc.tol)
			assert.InDelta(t, 2.5, p.Bias, tc.tol)
			assert.InDelta(t, 1, p.R2(x, y), tc.tol)
		})
	}
	// Fewer samples than features: the minimum-norm solution fits exactly.
	p, err := interp.FitLinear(x.Slice(0, 5, 0, d), y[:5])
	require.NoError(t, err)
	assert.InDelta(t, 1, p.R2(x.Slice(0, 5, 0, d), y[:5]), 1e-9)

	_, err = interp.FitLinear(x, y[:3])
	assert.Error(t, err)
	_, err = interp.FitLinear(mat.NewDense(4, 2, nil), []float64{1, 2, 3, 4})
	assert.ErrorContains(t, err, "do not vary")
}

func TestFitLogisticSeparatesClasses(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 5))
	const n, d, k = 300, 5, 3
	x := mat.NewDense(n, d, nil)
	labels := make([]int, n)
	for i := 0; i < n; i++ {
		labels[i] = i % k
		for j := 0; j < d; j++ {
			x.Set(i, j, rng.NormFloat64()+3*float64(labels[i]*(j%2))) // classes apart on the odd features
		}
		x.Set(i, 0, 100+1000*x.At(i, 0)) // a feature on another scale
	}
	train, test := interp.TrainTestSplit(n, 0.25, 9)
	require.Len(t, test, 75)
	require.Len(t, train, 225)
	p, err := interp.FitLogistic(interp.SelectRows(x, train), interp.Pick(labels, train))
	require.NoError(t, err)
	assert.Greater(t, p.Accuracy(interp.SelectRows(x, test), interp.Pick(labels, test)), 0.9)
	probs := p.Probabilities(interp.SelectRows(x, test))
	for i := 0; i < len(test); i++ {
		assert.InDelta(t, 1, mat.Sum(probs.RowView(i)), 1e-12)
	}
	_, err = interp.FitLogistic(x, labels[:10])
	assert.Error(t, err)
	_, err = interp.FitLogistic(mat.NewDense(2, 1, []float64{1, 2}), []int{0, -1})
	assert.ErrorContains(t, err, "negative")
}

// TestProbeRecoversAPlantedFeature plants a feature in the model's residual
// stream: prompt i gets c_i·v added after block 1 at its last token. A
// linear probe on the captured residual stream reads c_i back on held-out
// prompts, and a logistic probe two blocks later reads its sign.
func TestProbeRecoversAPlantedFeature(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(11, 12))
	const n = 120
	v := randomVector(13, 64)
	v.ScaleVec(1/mat.Norm(v, 2), v)
	coef := make([]float64, n)
	signs := make([]int, n)
	x0 := mat.NewDense(n, 64, nil)
	x1 := mat.NewDense(n, 64, nil)
	x3 := mat.NewDense(n, 64, nil)
	for i := 0; i < n; i++ {
		prompt := make([]llama.Token, 6)
		for j := range prompt {
			prompt[j] = llama.Token('a' + rng.IntN(26))
		}
		coef[i] = 8 * (rng.Float64()*2 - 1)
		if coef[i] > 0 {
			signs[i] = 1
		}
		cache, err := interp.RunWithCache(ctx, c, [][]llama.Token{prompt},
			interp.Names("blocks.0.hook_resid_post", "blocks.1.hook_resid_post", "blocks.3.hook_resid_mid"),
			interp.WithPatches(interp.Steer(1, v, coef[i], interp.AtPositions(len(prompt)-1))))
		require.NoError(t, err)
		x0.SetRow(i, cache.ResidPost(0, 0).RawRowView(len(prompt)-1))
		x1.SetRow(i, cache.ResidPost(1, 0).RawRowView(len(prompt)-1))
		x3.SetRow(i, cache.ResidMid(3, 0).RawRowView(len(prompt)-1))
	}
	train, test := interp.TrainTestSplit(n, 0.25, 1)

	lin, err := interp.FitLinear(interp.SelectRows(x1, train), interp.Pick(coef, train), interp.WithL2(1e-3))
	require.NoError(t, err)
	r2 := lin.R2(interp.SelectRows(x1, test), interp.Pick(coef, test))
	t.Logf("linear probe R² on held-out prompts: %.4f", r2)
	assert.Greater(t, r2, 0.95)

	// Before the block where it is planted, the feature is not there.
	control, err := interp.FitLinear(interp.SelectRows(x0, train), interp.Pick(coef, train), interp.WithL2(1e-3))
	require.NoError(t, err)
	r2 = control.R2(interp.SelectRows(x0, test), interp.Pick(coef, test))
	t.Logf("the same probe before block 1: R² %.4f", r2)
	assert.Less(t, r2, 0.5)

	logit, err := interp.FitLogistic(interp.SelectRows(x3, train), interp.Pick(signs, train))
	require.NoError(t, err)
	acc := logit.Accuracy(interp.SelectRows(x3, test), interp.Pick(signs, test))
	t.Logf("logistic probe accuracy two blocks later: %.3f", acc)
	assert.Greater(t, acc, 0.9)
}
