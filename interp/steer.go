package interp

import (
	"context"
	"errors"
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/go-rlm/rlm/llama"
)

// Steer returns a patch adding coeff·v to the residual stream after block
// layer (blocks.L.hook_resid_post) at every position, or at the positions
// of [AtPositions]. Apply it to one run ([WithPatches], [RunWithHooks]) or to
// every decode while it is attached ([Attach], for generation).
// [SetSteering] does the same through llama.cpp's control vectors.
func Steer(layer int, v mat.Vector, coeff float64, opts ...PatchOption) Patch {
	var scaled mat.VecDense
	scaled.ScaleVec(coeff, v)
	p := Add(ActName("resid_post", layer), &scaled, opts...)
	p.op = "steer"
	return p
}

// SetSteering adds coeff·vectors[L] to the residual stream after each block
// L through llama.cpp's control vectors: part of the graph, so it costs no
// hook and applies to every decode of c (generation included) until
// c.ClearControlVector. It replaces any control vector set before.
// llama.cpp has no control vector after block 0; steer there with [Steer].
// A context made WithEmbeddings cannot take control vectors.
func SetSteering(c *llama.Context, vectors map[int]mat.Vector, coeff float64) error {
	cv := make(map[int][]float32, len(vectors))
	for l, v := range vectors {
		if l == 0 {
			return errors.New("interp: set steering: llama.cpp has no control vector after block 0; use interp.Steer")
		}
		f := make([]float32, v.Len())
		for i := range f {
			f[i] = float32(coeff * v.AtVec(i))
		}
		cv[l] = f
	}
	if err := c.SetControlVector(cv); err != nil {
		return fmt.Errorf("interp: set steering: %w", err)
	}
	return nil
}

// Attach registers patches on c for every later decode (Generate,
// GenerateBatch, Decode) until the returned function removes them. Rows are
// matched by position within their sequence. In the last layer llama.cpp
// computes only the rows whose logits a decode asks for, so a patch there
// reaches only those. Patches on attention patterns
// cannot be attached (their rows are split by sequence); [PatchFunc] rows of
// other nodes are as [TokenRow] gives them. The remove function is safe to
// call more than once.
func Attach(ctx context.Context, c *llama.Context, patches ...Patch) (remove func(), err error) {
	p, err := newHookPlan(ctx, c, patches)
	if err != nil {
		return nil, fmt.Errorf("interp: attach: %w", err)
	}
	p.attached = true
	for _, n := range p.order {
		if isAttentionCells(n.node) {
			return nil, fmt.Errorf("interp: attach: %s: attention patterns cannot be patched across decodes", n.node)
		}
	}
	undo, err := p.register(c)
	if err != nil {
		return nil, fmt.Errorf("interp: attach: %w", err)
	}
	done := false
	return func() {
		if !done {
			done = true
			undo()
		}
	}, nil
}

// ContrastOption configures [ContrastVector].
type ContrastOption func(*contrastConfig)

type contrastConfig struct{ meanOverPositions bool }

// MeanOverPositions averages each prompt's activation over all its
// positions. Default: the activation at the prompt's last token.
func MeanOverPositions() ContrastOption {
	return func(c *contrastConfig) { c.meanOverPositions = true }
}

// ContrastVector builds a steering vector from contrast pairs: the mean of
// the hook point's activation over the positive prompts minus its mean over
// the negative prompts (at each prompt's last token, or averaged over its
// positions with [MeanOverPositions]). Use it with [Steer] or [SetSteering]
// at the layer it was read from.
func ContrastVector(ctx context.Context, c *llama.Context, positive, negative [][]llama.Token, hook string, opts ...ContrastOption) (*mat.VecDense, error) {
	var cfg contrastConfig
	for _, o := range opts {
		o(&cfg)
	}
	if len(positive) == 0 || len(negative) == 0 {
		return nil, errors.New("interp: contrast vector: need positive and negative prompts")
	}
	mean := func(prompts [][]llama.Token) (*mat.VecDense, error) {
		cache, err := RunWithCache(ctx, c, prompts, Names(hook))
		if err != nil {
			return nil, err
		}
		var sum *mat.VecDense
		for seq := range prompts {
			m := cache.Get(hook, seq)
			rows, cols := m.Dims()
			if sum == nil {
				sum = mat.NewVecDense(cols, nil)
			}
			if cfg.meanOverPositions {
				for i := 0; i < rows; i++ {
					sum.AddScaledVec(sum, 1/float64(rows), m.RowView(i))
				}
			} else {
				sum.AddVec(sum, m.RowView(rows-1))
			}
		}
		sum.ScaleVec(1/float64(len(prompts)), sum)
		return sum, nil
	}
	pos, err := mean(positive)
	if err != nil {
		return nil, fmt.Errorf("interp: contrast vector: %w", err)
	}
	neg, err := mean(negative)
	if err != nil {
		return nil, fmt.Errorf("interp: contrast vector: %w", err)
	}
	pos.SubVec(pos, neg)
	return pos, nil
}
