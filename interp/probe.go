package interp

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
)

// ProbeOption configures [FitLinear] and [FitLogistic].
type ProbeOption func(*probeConfig)

type probeConfig struct {
	l2      *float64
	maxIter int
}

// WithL2 sets the L2 penalty on the weights (not the bias). Default: 0 for
// FitLinear (plain least squares, the minimum-norm solution when features
// are collinear); 1e-3 for FitLogistic, on standardized features, which
// keeps weights finite when the classes separate.
func WithL2(lambda float64) ProbeOption { return func(c *probeConfig) { c.l2 = &lambda } }

// WithMaxIterations bounds FitLogistic's optimizer. Default 500.
func WithMaxIterations(n int) ProbeOption { return func(c *probeConfig) { c.maxIter = n } }

func newProbeConfig(opts []ProbeOption, l2 float64) (float64, int) {
	cfg := probeConfig{maxIter: 500}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.l2 != nil {
		l2 = *cfg.l2
	}
	return l2, cfg.maxIter
}

// LinearProbe predicts a number from an activation: y ≈ Weights·x + Bias.
// It is safe for concurrent use.
type LinearProbe struct {
	Weights *mat.VecDense
	Bias    float64
}

// FitLinear fits a linear probe by least squares to x (samples × features,
// such as activations at one position of many prompts) and targets y. It
// returns an error if the shapes disagree or there are fewer than two
// samples.
func FitLinear(x mat.Matrix, y []float64, opts ...ProbeOption) (*LinearProbe, error) {
	l2, _ := newProbeConfig(opts, 0)
	n, d := x.Dims()
	if n != len(y) || n < 2 {
		return nil, fmt.Errorf("interp: fit linear probe: %d samples and %d targets; need as many, at least 2", n, len(y))
	}
	xc, means := center(x)
	ym := floats.Sum(y) / float64(n)
	yc := mat.NewVecDense(n, nil)
	for i, v := range y {
		yc.SetVec(i, v-ym)
	}
	w := mat.NewVecDense(d, nil)
	if l2 > 0 {
		// Ridge: (XᵀX + λI) w = Xᵀy.
		var a mat.SymDense
		a.SymOuterK(1, xc.T())
		for i := 0; i < d; i++ {
			a.SetSym(i, i, a.At(i, i)+l2)
		}
		var chol mat.Cholesky
		if !chol.Factorize(&a) {
			return nil, errors.New("interp: fit linear probe: the ridge system is not positive definite")
		}
		var b mat.VecDense
		b.MulVec(xc.T(), yc)
		if err := chol.SolveVecTo(w, &b); err != nil {
			return nil, fmt.Errorf("interp: fit linear probe: %w", err)
		}
	} else {
		// The minimum-norm least-squares solution, through the SVD, so
		// that collinear features (fewer samples than dimensions) work.
		var svd mat.SVD
		if !svd.Factorize(xc, mat.SVDThin) {
			return nil, errors.New("interp: fit linear probe: SVD failed")
		}
		s := svd.Values(nil)
		rank := 0
		tol := float64(max(n, d)) * s[0] * 1e-12
		for _, v := range s {
			if v > tol {
				rank++
			}
		}
		if rank == 0 {
			return nil, errors.New("interp: fit linear probe: the features do not vary")
		}
		svd.SolveVecTo(w, yc, rank)
	}
	return &LinearProbe{Weights: w, Bias: ym - mat.Dot(w, mat.NewVecDense(d, means))}, nil
}

// Predict returns the probe's prediction for each row of x.
func (p *LinearProbe) Predict(x mat.Matrix) []float64 {
	var out mat.VecDense
	out.MulVec(x, p.Weights)
	pred := make([]float64, out.Len())
	for i := range pred {
		pred[i] = out.AtVec(i) + p.Bias
	}
	return pred
}

// R2 is the coefficient of determination of the probe's predictions for x
// against y: 1 is perfect, 0 no better than predicting the mean of y.
func (p *LinearProbe) R2(x mat.Matrix, y []float64) float64 {
	pred := p.Predict(x)
	mean := floats.Sum(y) / float64(len(y))
	var ssRes, ssTot float64
	for i, v := range y {
		ssRes += (v - pred[i]) * (v - pred[i])
		ssTot += (v - mean) * (v - mean)
	}
	return 1 - ssRes/ssTot
}

// LogisticProbe classifies activations into classes 0..K-1 by multinomial
// logistic regression (binary when K = 2): class scores Weights·x + Bias,
// probabilities their softmax. It is safe for concurrent use.
type LogisticProbe struct {
	Weights *mat.Dense // classes × features
	Bias    []float64  // per class
}

// FitLogistic fits a logistic probe to x (samples × features) and labels
// in 0..K-1 (K = the largest label + 1, at least 2) by minimizing the mean
// cross-entropy plus the L2 penalty with L-BFGS, on features standardized
// internally (the returned weights apply to x as given).
func FitLogistic(x mat.Matrix, labels []int, opts ...ProbeOption) (*LogisticProbe, error) {
	l2, maxIter := newProbeConfig(opts, 1e-3)
	n, d := x.Dims()
	if n != len(labels) || n < 2 {
		return nil, fmt.Errorf("interp: fit logistic probe: %d samples and %d labels; need as many, at least 2", n, len(labels))
	}
	k := 2
	for _, l := range labels {
		if l < 0 {
			return nil, fmt.Errorf("interp: fit logistic probe: negative label %d", l)
		}
		k = max(k, l+1)
	}
	xs, means := center(x)
	stds := make([]float64, d)
	for j := 0; j < d; j++ {
		var ss float64
		for i := 0; i < n; i++ {
			ss += xs.At(i, j) * xs.At(i, j)
		}
		stds[j] = math.Sqrt(ss / float64(n))
		if stds[j] == 0 {
			stds[j] = 1
		}
		for i := 0; i < n; i++ {
			xs.Set(i, j, xs.At(i, j)/stds[j])
		}
	}

	// Parameters: k rows of d weights, then k biases.
	scores := mat.NewDense(n, k, nil)
	probs := make([]float64, k)
	loss := func(theta, grad []float64) float64 {
		w := mat.NewDense(k, d, theta[:k*d])
		b := theta[k*d:]
		scores.Mul(xs, w.T())
		var gw *mat.Dense
		if grad != nil {
			clear(grad)
			gw = mat.NewDense(k, d, grad[:k*d])
		}
		var total float64
		for i := 0; i < n; i++ {
			row := scores.RawRowView(i)
			m := math.Inf(-1)
			for c := range row {
				row[c] += b[c]
				m = max(m, row[c])
			}
			var z float64
			for c := range row {
				probs[c] = math.Exp(row[c] - m)
				z += probs[c]
			}
			total += math.Log(z) + m - row[labels[i]]
			if grad == nil {
				continue
			}
			for c := range probs {
				g := probs[c] / z
				if c == labels[i] {
					g--
				}
				g /= float64(n)
				grad[k*d+c] += g
				floats.AddScaled(gw.RawRowView(c), g, xs.RawRowView(i))
			}
		}
		total /= float64(n)
		total += 0.5 * l2 * floats.Dot(theta[:k*d], theta[:k*d])
		if grad != nil {
			floats.AddScaled(grad[:k*d], l2, theta[:k*d])
		}
		return total
	}
	problem := optimize.Problem{
		Func: func(theta []float64) float64 { return loss(theta, nil) },
		Grad: func(grad, theta []float64) { loss(theta, grad) },
	}
	settings := &optimize.Settings{MajorIterations: maxIter, GradientThreshold: 1e-8}
	res, err := optimize.Minimize(problem, make([]float64, k*d+k), settings, &optimize.LBFGS{})
	if err != nil && (res == nil || res.Status == optimize.Failure) {
		return nil, fmt.Errorf("interp: fit logistic probe: %w", err)
	}
	// Fold the standardization back in: w·((x − μ)/σ) + b.
	p := &LogisticProbe{Weights: mat.NewDense(k, d, nil), Bias: make([]float64, k)}
	for c := 0; c < k; c++ {
		b := res.X[k*d+c]
		for j := 0; j < d; j++ {
			w := res.X[c*d+j] / stds[j]
			p.Weights.Set(c, j, w)
			b -= w * means[j]
		}
		p.Bias[c] = b
	}
	return p, nil
}

// Probabilities returns, for each row of x, the probability of each class.
func (p *LogisticProbe) Probabilities(x mat.Matrix) *mat.Dense {
	var s mat.Dense
	s.Mul(x, p.Weights.T())
	rows, k := s.Dims()
	for i := 0; i < rows; i++ {
		row := s.RawRowView(i)
		floats.Add(row, p.Bias)
		m := floats.Max(row)
		var z float64
		for c := range row {
			row[c] = math.Exp(row[c] - m)
			z += row[c]
		}
		floats.Scale(1/z, row[:k])
	}
	return &s
}

// Predict returns the most likely class of each row of x.
func (p *LogisticProbe) Predict(x mat.Matrix) []int {
	probs := p.Probabilities(x)
	rows, _ := probs.Dims()
	out := make([]int, rows)
	for i := range out {
		out[i] = floats.MaxIdx(probs.RawRowView(i))
	}
	return out
}

// Accuracy is the fraction of rows of x whose predicted class is the label.
func (p *LogisticProbe) Accuracy(x mat.Matrix, labels []int) float64 {
	pred := p.Predict(x)
	right := 0
	for i, l := range labels {
		if pred[i] == l {
			right++
		}
	}
	return float64(right) / float64(len(labels))
}

// TrainTestSplit shuffles the indices 0..n-1 with the seed and puts
// round(n·testFraction) of them in test, the rest in train.
func TrainTestSplit(n int, testFraction float64, seed uint64) (train, test []int) {
	perm := rand.New(rand.NewPCG(seed, 0)).Perm(n)
	nTest := int(math.Round(float64(n) * testFraction))
	nTest = min(max(nTest, 0), n)
	return perm[nTest:], perm[:nTest]
}

// SelectRows returns the rows of x at the indices, in that order, as a new
// matrix.
func SelectRows(x mat.Matrix, rows []int) *mat.Dense {
	if len(rows) == 0 {
		return &mat.Dense{}
	}
	_, d := x.Dims()
	out := mat.NewDense(len(rows), d, nil)
	for i, r := range rows {
		for j := 0; j < d; j++ {
			out.Set(i, j, x.At(r, j))
		}
	}
	return out
}

// Pick returns s's elements at the indices, in that order.
func Pick[T any](s []T, idx []int) []T {
	out := make([]T, len(idx))
	for i, j := range idx {
		out[i] = s[j]
	}
	return out
}

// center returns x minus its column means, and the means.
func center(x mat.Matrix) (*mat.Dense, []float64) {
	n, d := x.Dims()
	out := mat.DenseCopyOf(x)
	means := make([]float64, d)
	for j := 0; j < d; j++ {
		var s float64
		for i := 0; i < n; i++ {
			s += out.At(i, j)
		}
		means[j] = s / float64(n)
		for i := 0; i < n; i++ {
			out.Set(i, j, out.At(i, j)-means[j])
		}
	}
	return out, means
}
