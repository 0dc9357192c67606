package llamatest

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/go-rlm/rlm/llama/gguf"
)

// Scales of the random weights. A random transformer tends to repeat one
// token under greedy decoding when one path dominates the logits, so every
// path is kept at about unit scale:
//
//   - Token embeddings are N(0, 1), and every norm weight is 1 + N(0, 0.1²):
//     RMSNorm brings each token to unit RMS anyway, and norms near 1 keep it
//     there.
//   - A projection reading n inputs is N(0, 1/n) (std 1/√n), so its outputs
//     have unit variance: query and key components of unit scale give
//     attention scores of unit spread after the 1/√head_dim scaling, neither
//     uniform nor one-hot, so context matters.
//   - The two projections that write into the residual stream (attn_output,
//     ffn_down) are further scaled by 1/√(2·layers), as in GPT-2, so the
//     residual grows little with depth and the embedding of the current token
//     does not drown the context, nor the other way round.
//   - Biases are N(0, 0.1²): present, as in Qwen2, but small.
//   - The output projection is N(0, 9/n_embd): on a unit-RMS final state the
//     logits spread with std ≈ 3, so the argmax is clear (greedy decoding is
//     stable) yet depends on the state. The rows of the tokens that are not
//     regular entries (control, user-defined, padding) are zero, so their
//     logit is always 0, below the maximum of the others: generation never
//     stops early on a random <|im_end|> and runs to its token budget.
//   - With tied embeddings (Config.TiedEmbeddings) llama.cpp computes the
//     logits with the N(0, 1) token embeddings, so they spread with std
//     ≈ √n_embd; the same rows are zero there, for the same reason.
const (
	normJitter = 0.1
	biasStd    = 0.1
	logitStd   = 3.0
)

// WriteModel writes the model cfg describes to path as a GGUF file that
// llama.cpp loads as Qwen2. The same config, seed included, always gives the
// same bytes.
func WriteModel(path string, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	w, err := gguf.Create(path)
	if err != nil {
		return fmt.Errorf("llamatest: write model: %w", err)
	}
	defer w.Close() // after an error, removes the file without writing it
	if err := writeMetadata(w, cfg); err != nil {
		return fmt.Errorf("llamatest: write model: %w", err)
	}
	if err := writeTensors(w, cfg); err != nil {
		return fmt.Errorf("llamatest: write model: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("llamatest: write model: %w", err)
	}
	return nil
}

func writeMetadata(w *gguf.Writer, cfg Config) error {
	const arch = "qwen2"
	u32 := func(n int) gguf.Value { return gguf.ValueOf(uint32(n)) }
	kvs := []gguf.KeyValue{
		{Key: gguf.KeyArchitecture, Value: gguf.ValueOf(arch)},
		{Key: gguf.KeyName, Value: gguf.ValueOf(cfg.Name)},
		{Key: gguf.KeyFileType, Value: gguf.ValueOf(uint32(cfg.fileType()))},
		{Key: arch + ".context_length", Value: u32(cfg.Context)},
		{Key: arch + ".embedding_length", Value: u32(cfg.Embd)},
		{Key: arch + ".block_count", Value: u32(cfg.Layers)},
		{Key: arch + ".feed_forward_length", Value: u32(cfg.FF)},
		{Key: arch + ".attention.head_count", Value: u32(cfg.Heads)},
		{Key: arch + ".attention.head_count_kv", Value: u32(cfg.KVHeads)},
		{Key: arch + ".rope.freq_base", Value: gguf.ValueOf(cfg.RopeBase)},
		{Key: arch + ".attention.layer_norm_rms_epsilon", Value: gguf.ValueOf(cfg.NormEps)},
	}
	for _, kv := range append(kvs, cfg.vocab().metadata()...) {
		if err := w.Set(kv.Key, kv.Value); err != nil {
			return err
		}
	}
	return nil
}

// writeTensors draws every tensor, in file order, from one random stream.
func writeTensors(w *gguf.Writer, cfg Config) error {
	g := newGaussian(cfg.Seed)
	v := cfg.vocab()
	embd, vocab, ff := int64(cfg.Embd), int64(v.Len()), int64(cfg.FF)
	kvEmbd := embd / int64(cfg.Heads) * int64(cfg.KVHeads)
	residualScale := 1 / math.Sqrt(2*float64(cfg.Layers))

	// add draws a tensor of the given shape (ggml order: inputs first) with
	// N(mean, std²) elements; 1-D tensors stay F32 as llama.cpp's converters
	// keep them.
	add := func(name string, shape []int64, mean, std float64) error {
		n := int64(1)
		for _, d := range shape {
			n *= d
		}
		values := g.fill(make([]float32, n), mean, std)
		typ := cfg.Type
		if len(shape) == 1 {
			typ = gguf.TypeF32
		}
		return w.AddFloat32(name, shape, typ, values)
	}
	proj := func(name string, in, out int64, scale float64) error {
		return add(name, []int64{in, out}, 0, scale/math.Sqrt(float64(in)))
	}

	// Rows of the tokens a random model must not produce by chance (control,
	// user-defined, padding) are zero; see the scales above.
	clearSpecialRows := func(m []float32) []float32 {
		for id := range v.Len() {
			if !v.generated(id) {
				clear(m[int64(id)*embd : int64(id+1)*embd])
			}
		}
		return m
	}
	embedding := g.fill(make([]float32, embd*vocab), 0, 1)
	if cfg.TiedEmbeddings {
		clearSpecialRows(embedding)
	}
	if err := w.AddFloat32("token_embd.weight", []int64{embd, vocab}, cfg.Type, embedding); err != nil {
		return err
	}
	embedding = nil
	if err := add("output_norm.weight", []int64{embd}, 1, normJitter); err != nil {
		return err
	}
	if !cfg.TiedEmbeddings {
		output := clearSpecialRows(g.fill(make([]float32, embd*vocab), 0, logitStd/math.Sqrt(float64(embd))))
		if err := w.AddFloat32("output.weight", []int64{embd, vocab}, cfg.Type, output); err != nil {
			return err
		}
	}
	for i := range cfg.Layers {
		blk := func(name string) string { return fmt.Sprintf("blk.%d.%s", i, name) }
		steps := []func() error{
			func() error { return add(blk("attn_norm.weight"), []int64{embd}, 1, normJitter) },
			func() error { return proj(blk("attn_q.weight"), embd, embd, 1) },
			func() error { return add(blk("attn_q.bias"), []int64{embd}, 0, biasStd) },
			func() error { return proj(blk("attn_k.weight"), embd, kvEmbd, 1) },
			func() error { return add(blk("attn_k.bias"), []int64{kvEmbd}, 0, biasStd) },
			func() error { return proj(blk("attn_v.weight"), embd, kvEmbd, 1) },
			func() error { return add(blk("attn_v.bias"), []int64{kvEmbd}, 0, biasStd) },
			func() error { return proj(blk("attn_output.weight"), embd, embd, residualScale) },
			func() error { return add(blk("ffn_norm.weight"), []int64{embd}, 1, normJitter) },
			func() error { return proj(blk("ffn_gate.weight"), embd, ff, 1) },
			func() error { return proj(blk("ffn_up.weight"), embd, ff, 1) },
			func() error { return proj(blk("ffn_down.weight"), ff, embd, residualScale) },
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return err
			}
		}
	}
	return nil
}

// gaussian draws normal variates by the Box–Muller transform from a PCG
// stream. It is written out here, rather than taken from math/rand, so that
// the weights for a seed stay the same across Go releases.
type gaussian struct {
	src   *rand.PCG
	spare float64
	has   bool
}

func newGaussian(seed int64) *gaussian {
	return &gaussian{src: rand.NewPCG(uint64(seed), 0x9E3779B97F4A7C15)}
}

// uniform returns a float64 in (0, 1].
func (g *gaussian) uniform() float64 {
	return (float64(g.src.Uint64()>>11) + 1) / (1 << 53)
}

func (g *gaussian) next() float64 {
	if g.has {
		g.has = false
		return g.spare
	}
	r := math.Sqrt(-2 * math.Log(g.uniform()))
	theta := 2 * math.Pi * g.uniform()
	g.spare, g.has = r*math.Sin(theta), true
	return r * math.Cos(theta)
}

// fill sets every element of dst to mean + std·N(0, 1) and returns dst.
func (g *gaussian) fill(dst []float32, mean, std float64) []float32 {
	for i := range dst {
		dst[i] = float32(mean + std*g.next())
	}
	return dst
}
