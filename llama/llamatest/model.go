package llamatest

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

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
	d := newDrawer(cfg.Seed)
	v := cfg.vocab()
	embd, vocab, ff := int64(cfg.Embd), int64(v.Len()), int64(cfg.FF)
	kvEmbd := embd / int64(cfg.Heads) * int64(cfg.KVHeads)
	residualScale := 1 / math.Sqrt(2*float64(cfg.Layers))

	// draw makes a tensor of the given shape (ggml order: inputs first) with
	// N(mean, std²) elements; 1-D tensors stay F32 as llama.cpp's converters
	// keep them.
	draw := func(name string, shape []int64, mean, std float64) (gguf.Tensor, error) {
		n := int64(1)
		for _, dim := range shape {
			n *= dim
		}
		typ := cfg.Type
		if len(shape) == 1 {
			typ = gguf.TypeF32
		}
		data, err := d.draw(typ, n, mean, std)
		return gguf.Tensor{Name: name, Shape: shape, Type: typ, Data: data}, err
	}
	add := func(name string, shape []int64, mean, std float64) error {
		t, err := draw(name, shape, mean, std)
		if err != nil {
			return err
		}
		return w.AddTensor(t)
	}
	proj := func(name string, in, out int64, scale float64) error {
		return add(name, []int64{in, out}, 0, scale/math.Sqrt(float64(in)))
	}
	// vocabRows adds a vocabulary-by-embedding matrix whose rows of the
	// tokens a random model must not produce by chance (control,
	// user-defined, padding) are zero; see the scales above.
	vocabRows := func(name string, std float64, clearSpecial bool) error {
		t, err := draw(name, []int64{embd, vocab}, 0, std)
		if err != nil {
			return err
		}
		if clearSpecial {
			row := len(t.Data) / int(vocab)
			for id := range v.Len() {
				if !v.generated(id) {
					clear(t.Data[id*row : (id+1)*row])
				}
			}
		}
		return w.AddTensor(t)
	}
	if err := vocabRows("token_embd.weight", 1, cfg.TiedEmbeddings); err != nil {
		return err
	}
	if err := add("output_norm.weight", []int64{embd}, 1, normJitter); err != nil {
		return err
	}
	if !cfg.TiedEmbeddings {
		if err := vocabRows("output.weight", logitStd/math.Sqrt(float64(embd)), true); err != nil {
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

// quantileBits is the resolution of the normal distribution weights are
// drawn from: 2^quantileBits equally likely values.
const quantileBits = 16

// standardQuantiles are the quantiles of N(0, 1) at (i+½)/2^16, i from 0
// to 2^16-1: drawing one of them uniformly at random is drawing from the
// standard normal distribution discretized to 65,536 equally likely values
// (its tails stop at ±4.3σ, which a test model never misses).
var standardQuantiles = sync.OnceValue(func() []float64 {
	const n = 1 << quantileBits
	q := make([]float64, n)
	for i := range q {
		q[i] = math.Sqrt2 * math.Erfinv(2*(float64(i)+0.5)/n-1)
	}
	return q
})

// A drawer draws tensors of normal variates from a PCG stream, by inverse
// transform sampling: each element is a quantile of the distribution,
// chosen by 16 random bits, already encoded in the tensor's type. Written
// out here, rather than taken from math/rand, so that the weights for a
// seed stay the same across Go releases; and so cheap per element (a table
// lookup and a store, four elements per 64-bit draw) that the race
// detector, which instruments every memory access of Go code, does not
// make writing a wide model slow.
type drawer struct {
	src *rand.PCG
}

func newDrawer(seed int64) *drawer {
	return &drawer{src: rand.NewPCG(uint64(seed), 0x9E3779B97F4A7C15)}
}

// draw returns n elements of N(mean, std²) encoded as typ (F32, F16 or
// BF16), rounded as gguf.EncodeFloat32 rounds.
func (d *drawer) draw(typ gguf.Type, n int64, mean, std float64) ([]byte, error) {
	values := make([]float32, 1<<quantileBits)
	for i, q := range standardQuantiles() {
		values[i] = float32(mean + std*q)
	}
	encoded, err := gguf.EncodeFloat32(typ, values)
	if err != nil {
		return nil, err
	}
	out := make([]byte, n*int64(len(encoded)/len(values)))
	switch len(encoded) / len(values) {
	case 2:
		table := make([]uint16, len(values))
		for i := range table {
			table[i] = binary.LittleEndian.Uint16(encoded[2*i:])
		}
		fill16(d.src, out, table)
	case 4:
		table := make([]uint32, len(values))
		for i := range table {
			table[i] = binary.LittleEndian.Uint32(encoded[4*i:])
		}
		fill32(d.src, out, table)
	default:
		return nil, fmt.Errorf("weight type %v", typ)
	}
	return out, nil
}

// fill16 and fill32 fill out with elements of table chosen by 16 random
// bits each, four to a draw of src.
//
// The race detector would check every store of these loops, the bulk of
// writing a model, for nothing: out is this goroutine's own, not yet shared
// with another. They are left out of its view (it stays on everything
// else), so that a wide model takes seconds to write under -race rather
// than minutes.
//
//go:norace
func fill16(src *rand.PCG, out []byte, table []uint16) {
	for i := 0; i < len(out); {
		for r, k := src.Uint64(), 0; k < 4 && i < len(out); k, i, r = k+1, i+2, r>>quantileBits {
			binary.LittleEndian.PutUint16(out[i:], table[uint16(r)])
		}
	}
}

//go:norace
func fill32(src *rand.PCG, out []byte, table []uint32) {
	for i := 0; i < len(out); {
		for r, k := src.Uint64(), 0; k < 4 && i < len(out); k, i, r = k+1, i+4, r>>quantileBits {
			binary.LittleEndian.PutUint32(out[i:], table[uint16(r)])
		}
	}
}
