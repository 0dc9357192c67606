package reference

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

// rmsNorm returns each row of x divided by its root mean square (with eps
// added to the mean square), times w elementwise.
func rmsNorm(x *mat.Dense, w []float64, eps float64) *mat.Dense {
	rows, cols := x.Dims()
	y := mat.NewDense(rows, cols, nil)
	for i := range rows {
		in, out := x.RawRowView(i), y.RawRowView(i)
		var sum float64
		for _, v := range in {
			sum += v * v
		}
		scale := 1 / math.Sqrt(sum/float64(cols)+eps)
		for j, v := range in {
			out[j] = v * scale * w[j]
		}
	}
	return y
}

// rope holds the rotary embedding's cosines and sines for positions 0..n-1.
type rope struct {
	dim      int
	cos, sin [][]float64 // [position][pair]
}

// newRope computes the rotation angles of the NEOX-style rotary embedding
// that Qwen2 uses in llama.cpp (ggml's GGML_ROPE_TYPE_NEOX): pair i of a
// head rotates dimensions i and i+dim/2 by the angle p·base^(−2i/dim) at
// position p. The angles are computed as ggml computes them, a running
// float32 product (theta *= base^(−2/dim)), so that they agree with
// llama.cpp's to the last bit rather than drift by a float32 rounding per
// pair.
func newRope(dim int, base float64, n int) *rope {
	r := &rope{dim: dim, cos: make([][]float64, n), sin: make([][]float64, n)}
	thetaScale := float32(math.Pow(base, -2/float64(dim)))
	for p := range n {
		r.cos[p] = make([]float64, dim/2)
		r.sin[p] = make([]float64, dim/2)
		theta := float32(p)
		for i := range dim / 2 {
			r.cos[p][i] = math.Cos(float64(theta))
			r.sin[p][i] = math.Sin(float64(theta))
			theta = float32(theta * thetaScale)
		}
	}
	return r
}

// apply rotates, in place, every head of x (tokens × heads·dim), the row of
// token p by position p's angles.
func (r *rope) apply(x *mat.Dense, heads int) {
	rows, _ := x.Dims()
	half := r.dim / 2
	for p := range rows {
		row := x.RawRowView(p)
		for h := range heads {
			v := row[h*r.dim : (h+1)*r.dim]
			for i := range half {
				x0, x1 := v[i], v[i+half]
				c, s := r.cos[p][i], r.sin[p][i]
				v[i] = x0*c - x1*s
				v[i+half] = x0*s + x1*c
			}
		}
	}
}

// softmaxCausal turns row, the raw scores of query i, into attention
// weights over keys 0..i: softmax(scale·score), with the weights of later
// keys (masked) set to 0.
func softmaxCausal(row []float64, i int, scale float64) {
	maxScore := math.Inf(-1)
	for j := range row[:i+1] {
		row[j] *= scale
		maxScore = max(maxScore, row[j])
	}
	var sum float64
	for j := range row[:i+1] {
		row[j] = math.Exp(row[j] - maxScore)
		sum += row[j]
	}
	for j := range row {
		if j <= i {
			row[j] /= sum
		} else {
			row[j] = 0
		}
	}
}
