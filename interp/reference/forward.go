package reference

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Result holds the activations of one forward pass, named as
// TransformerLens names its hook points. Every matrix has one row per token
// of the input, in order. Slices indexed by layer have Config.Layers
// entries.
type Result struct {
	Tokens []int
	// Embed is the token embeddings, tokens × Embd: the residual stream
	// before layer 0 (hook_embed, hook_resid_pre of layer 0; llama.cpp's
	// inp_embd).
	Embed *mat.Dense
	// Z is the attention heads' outputs, merged before the output
	// projection, tokens × (Heads·HeadDim), head after head (hook_z;
	// llama.cpp's kqv_out-L).
	Z []*mat.Dense
	// Pattern is the attention pattern of each layer and head, tokens ×
	// tokens: row i holds query i's weights over keys 0..i (hook_pattern;
	// llama.cpp's kq_soft_max-L, cropped to the positions in use).
	Pattern [][]*mat.Dense
	// AttnOut is the attention block's output, after the output projection,
	// tokens × Embd (hook_attn_out; in llama.cpp an unnamed node, equal to
	// ffn_inp-L minus the residual before the layer).
	AttnOut []*mat.Dense
	// ResidMid is the residual stream after attention, tokens × Embd
	// (hook_resid_mid; llama.cpp's ffn_inp-L).
	ResidMid []*mat.Dense
	// MLPOut is the MLP's output, tokens × Embd (hook_mlp_out; llama.cpp's
	// ffn_out-L).
	MLPOut []*mat.Dense
	// ResidPost is the residual stream after each layer, tokens × Embd
	// (hook_resid_post; llama.cpp's l_out-L).
	ResidPost []*mat.Dense
	// FinalNorm is the output of the final RMSNorm, weight applied, tokens
	// × Embd (ln_final.hook_normalized; llama.cpp's result_norm).
	FinalNorm *mat.Dense
	// Logits are the next-token logits, tokens × Vocab (llama.cpp's
	// result_output).
	Logits *mat.Dense
}

// ResidPre returns the residual stream entering layer l: Embed for layer
// 0, else ResidPost[l-1] (hook_resid_pre).
func (r *Result) ResidPre(l int) *mat.Dense {
	if l == 0 {
		return r.Embed
	}
	return r.ResidPost[l-1]
}

// Forward runs the model on tokens, a sequence starting at position 0,
// with causal attention, and returns every activation of [Result]. It
// checks ctx between layers. The arithmetic is float64 (see
// [WithLlamaRounding] for where llama.cpp rounds to half precision).
func (m *Model) Forward(ctx context.Context, tokens []int) (*Result, error) {
	if len(tokens) == 0 {
		return nil, fmt.Errorf("reference: forward: no tokens")
	}
	for i, t := range tokens {
		if t < 0 || t >= m.cfg.Vocab {
			return nil, fmt.Errorf("reference: forward: token %d at index %d outside the vocabulary [0, %d)", t, i, m.cfg.Vocab)
		}
	}
	c := m.cfg
	n := len(tokens)
	res := &Result{
		Tokens:    append([]int(nil), tokens...),
		Embed:     mat.NewDense(n, c.Embd, nil),
		Z:         make([]*mat.Dense, c.Layers),
		Pattern:   make([][]*mat.Dense, c.Layers),
		AttnOut:   make([]*mat.Dense, c.Layers),
		ResidMid:  make([]*mat.Dense, c.Layers),
		MLPOut:    make([]*mat.Dense, c.Layers),
		ResidPost: make([]*mat.Dense, c.Layers),
	}
	for i, t := range tokens {
		res.Embed.SetRow(i, m.tokEmbd.RawRowView(t))
	}
	rope := newRope(c.HeadDim, c.RopeBase, n)

	resid := res.Embed
	for l := range m.layers {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("reference: forward: %w", err)
		}
		ly := &m.layers[l]
		h := rmsNorm(resid, ly.attnNorm, c.RMSEps)
		q := m.project(h, ly.wq, ly.bq)
		k := m.project(h, ly.wk, ly.bk)
		v := m.project(h, ly.wv, ly.bv)
		rope.apply(q, c.Heads)
		rope.apply(k, c.KVHeads)
		res.Z[l], res.Pattern[l] = m.attention(q, k, v)
		res.AttnOut[l] = m.project(res.Z[l], ly.wo, nil)

		mid := mat.NewDense(n, c.Embd, nil)
		mid.Add(resid, res.AttnOut[l])
		res.ResidMid[l] = mid

		h = rmsNorm(mid, ly.ffnNorm, c.RMSEps)
		gate := m.project(h, ly.wGate, nil)
		up := m.project(h, ly.wUp, nil)
		gate.Apply(func(i, j int, g float64) float64 { return g / (1 + math.Exp(-g)) * up.At(i, j) }, gate)
		res.MLPOut[l] = m.project(gate, ly.wDown, nil)

		post := mat.NewDense(n, c.Embd, nil)
		post.Add(mid, res.MLPOut[l])
		res.ResidPost[l] = post
		resid = post
	}
	res.FinalNorm = rmsNorm(resid, m.outputNorm, c.RMSEps)
	res.Logits = m.project(res.FinalNorm, m.output, m.outputBias)
	return res, nil
}

// project returns x·Wᵀ + b (b may be nil).
func (m *Model) project(x *mat.Dense, w weight, b []float64) *mat.Dense {
	if m.llamaRounding && w.half {
		x = mat.DenseCopyOf(x)
		roundHalf(x)
	}
	rows, _ := x.Dims()
	out, _ := w.Dims()
	y := mat.NewDense(rows, out, nil)
	y.Mul(x, w.T())
	if b != nil {
		for i := range rows {
			row := y.RawRowView(i)
			for j := range row {
				row[j] += b[j]
			}
		}
	}
	return y
}

// attention computes causal grouped-query attention: query head h reads
// key/value head h/(Heads/KVHeads), as ggml broadcasts them. q is tokens ×
// (Heads·HeadDim), k and v tokens × (KVHeads·HeadDim), all after RoPE. It
// returns the heads' outputs side by side and each head's pattern.
func (m *Model) attention(q, k, v *mat.Dense) (*mat.Dense, []*mat.Dense) {
	c := m.cfg
	n, _ := q.Dims()
	d := c.HeadDim
	if m.llamaRounding {
		// K and V are stored in the F16 KV cache, and Q meets K there.
		for _, x := range []*mat.Dense{q, k, v} {
			roundHalf(x)
		}
	}
	scale := 1 / math.Sqrt(float64(d))
	group := c.Heads / c.KVHeads
	z := mat.NewDense(n, c.Heads*d, nil)
	patterns := make([]*mat.Dense, c.Heads)
	for h := range c.Heads {
		kv := h / group
		qh := q.Slice(0, n, h*d, (h+1)*d)
		kh := k.Slice(0, n, kv*d, (kv+1)*d)
		vh := v.Slice(0, n, kv*d, (kv+1)*d)
		p := mat.NewDense(n, n, nil)
		p.Mul(qh, kh.T())
		for i := range n {
			softmaxCausal(p.RawRowView(i), i, scale)
		}
		weights := p
		if m.llamaRounding {
			// The weights meet V, an F16 tensor, in a matrix product;
			// the pattern keeps them as kq_soft_max holds them.
			weights = mat.DenseCopyOf(p)
			roundHalf(weights)
		}
		z.Slice(0, n, h*d, (h+1)*d).(*mat.Dense).Mul(weights, vh)
		patterns[h] = p
	}
	return z, patterns
}
