package reference

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

func randomDense(rng *rand.Rand, r, c int) *mat.Dense {
	d := mat.NewDense(r, c, nil)
	for i := range r {
		for j := range c {
			d.Set(i, j, rng.NormFloat64())
		}
	}
	return d
}

// TestRopeRelativePosition checks the property rotary embeddings exist for:
// the score of a query at position p and a key at position p' depends on
// p − p' only, and rotation keeps each head's norm.
func TestRopeRelativePosition(t *testing.T) {
	const dim, heads, n = 16, 2, 12
	rng := rand.New(rand.NewPCG(1, 2))
	q, k := randomDense(rng, 1, heads*dim), randomDense(rng, 1, heads*dim)
	r := newRope(dim, 10000, n)
	at := func(x *mat.Dense, p int) []float64 {
		// The same vector placed at position p.
		rows := mat.NewDense(n, heads*dim, nil)
		rows.SetRow(p, x.RawRowView(0))
		r.apply(rows, heads)
		return rows.RawRowView(p)
	}
	for _, shift := range []int{0, 1, 5} {
		base := floats.Dot(at(q, shift)[:dim], at(k, 0)[:dim])
		for p := shift; p < n; p++ {
			got := floats.Dot(at(q, p)[:dim], at(k, p-shift)[:dim])
			assert.InDelta(t, base, got, 1e-4, "offset %d at position %d", shift, p)
		}
	}
	for p := range n {
		assert.InDelta(t, floats.Norm(q.RawRowView(0)[dim:], 2), floats.Norm(at(q, p)[dim:], 2), 1e-12, "norm at %d", p)
	}
	// Position 0 is no rotation; position 1 rotates pair 0 by one radian.
	assert.Equal(t, q.RawRowView(0), at(q, 0))
	x0, x1 := q.At(0, 0), q.At(0, dim/2)
	assert.InDelta(t, x0*math.Cos(1)-x1*math.Sin(1), at(q, 1)[0], 1e-12)
	assert.InDelta(t, x0*math.Sin(1)+x1*math.Cos(1), at(q, 1)[dim/2], 1e-12)
}

func TestSoftmaxCausal(t *testing.T) {
	for i := range 5 {
		row := []float64{3, -1, 0.5, 2, 7}
		softmaxCausal(row, i, 0.5)
		assert.InDelta(t, 1, floats.Sum(row), 1e-12)
		for j := i + 1; j < len(row); j++ {
			assert.Zero(t, row[j], "key %d is after query %d", j, i)
		}
		if i >= 3 {
			// exp(0.5·2)/exp(0.5·3): the ratio of two weights is the
			// exponential of their scaled score difference.
			assert.InDelta(t, math.Exp(-0.5), row[3]/row[0], 1e-12)
		}
	}
}

func TestRMSNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := randomDense(rng, 3, 8)
	x.Scale(5, x)
	ones := []float64{1, 1, 1, 1, 1, 1, 1, 1}
	y := rmsNorm(x, ones, 0)
	for i := range 3 {
		row := y.RawRowView(i)
		assert.InDelta(t, 1, floats.Norm(row, 2)/math.Sqrt(8), 1e-12, "unit RMS")
		assert.InDelta(t, 0, floats.Distance(floats.ScaleTo(make([]float64, 8), 1/floats.Norm(row, 2), row),
			floats.ScaleTo(make([]float64, 8), 1/floats.Norm(x.RawRowView(i), 2), x.RawRowView(i)), 2), 1e-12, "same direction")
	}
	w := []float64{2, 0, 1, 1, 1, 1, 1, 1}
	yw := rmsNorm(x, w, 0)
	assert.InDelta(t, 2*y.At(0, 0), yw.At(0, 0), 1e-12)
	assert.Zero(t, yw.At(1, 1))
}

func TestHalf(t *testing.T) {
	assert.Equal(t, 1.0, half(1))
	assert.Equal(t, 1+1.0/1024, half(1+1.0/1024))        // representable: 10 mantissa bits
	assert.Equal(t, 1.0, half(1+1.0/4096))               // rounds down to 1
	assert.Equal(t, 65504.0, half(65504))                // the largest half
	assert.True(t, math.IsInf(half(1e6), 1), "overflow") // beyond it
}
