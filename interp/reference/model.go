package reference

import (
	"errors"
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/go-rlm/rlm/llama/gguf"
)

// ErrUnsupported is wrapped by the errors of [Load] for models this package
// cannot run: another architecture, rope scaling, or tensors of a shape the
// Qwen2 graph does not have.
var ErrUnsupported = errors.New("unsupported model")

// Config is the shape of a model, read from its GGUF metadata (the qwen2.*
// keys) and tensor shapes.
type Config struct {
	Layers   int     // qwen2.block_count
	Embd     int     // qwen2.embedding_length: the width of the residual stream
	Heads    int     // qwen2.attention.head_count
	KVHeads  int     // qwen2.attention.head_count_kv (default Heads)
	HeadDim  int     // qwen2.attention.key_length (default Embd/Heads)
	FF       int     // qwen2.feed_forward_length: the width of the MLP
	Vocab    int     // rows of token_embd.weight
	RopeBase float64 // qwen2.rope.freq_base (default 10000)
	RMSEps   float64 // qwen2.attention.layer_norm_rms_epsilon
}

// Model is a Qwen2 model's weights in float64, ready for [Model.Forward]. It
// holds every weight in memory at 8 bytes a value: it is meant for the small
// generated models of tests, not for a 7B model. A Model is immutable after
// [Load] and safe for concurrent use.
type Model struct {
	cfg Config

	tokEmbd    weight // Vocab × Embd
	outputNorm []float64
	output     weight    // Vocab × Embd (token_embd when the file has no output.weight)
	outputBias []float64 // nil when absent
	layers     []layer

	llamaRounding bool // WithLlamaRounding
}

// weight is a matrix of weights, out × in as GGUF stores it (ggml's ne0,
// the row length, is the input width).
type weight struct {
	*mat.Dense
	// half reports that the file stores it in F16: llama.cpp's CPU backend
	// then rounds the matrix product's input to F16 too.
	half bool
}

// layer is one transformer block.
type layer struct {
	attnNorm          []float64
	wq, wk, wv, wo    weight
	bq, bk, bv        []float64 // nil when absent
	ffnNorm           []float64
	wGate, wUp, wDown weight
}

// Option configures [Load].
type Option func(*Model)

// WithLlamaRounding makes the forward pass round values to half precision
// where llama.cpp's CPU backend does with its default settings (an F16 KV
// cache) and flash attention off: the keys and values as they enter the
// cache, the queries and the attention weights as they meet those F16
// tensors in a matrix product, and the input of every matrix product with
// F16 weights (as the x86 kernels do). On short inputs the result then
// matches llama.cpp to float32 rounding; on longer ones, values that lie
// within float32 error of a rounding boundary round differently in the two
// and the agreement falls back to half precision. Default: off, the exact
// computation in float64 of the weights as stored.
func WithLlamaRounding() Option { return func(m *Model) { m.llamaRounding = true } }

// Load reads a Qwen2 model from a GGUF file. Weights of any type package gguf
// can dequantize are accepted; the computation uses their dequantized values.
func Load(path string, opts ...Option) (*Model, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reference: load: %w", err)
	}
	defer f.Close()
	m := &Model{}
	for _, o := range opts {
		o(m)
	}
	if err := m.load(f); err != nil {
		return nil, fmt.Errorf("reference: load %s: %w", path, err)
	}
	return m, nil
}

// Config returns the model's shape.
func (m *Model) Config() Config { return m.cfg }

func (m *Model) load(f *gguf.File) error {
	arch, err := f.Architecture()
	if err != nil {
		return err
	}
	if arch != "qwen2" {
		return fmt.Errorf("%w: architecture %q, want qwen2", ErrUnsupported, arch)
	}
	if err := m.readConfig(f, arch); err != nil {
		return err
	}
	c := &m.cfg
	r := tensorReader{f: f}
	m.tokEmbd = r.matrix("token_embd.weight", -1, c.Embd)
	if r.err != nil {
		return r.err
	}
	c.Vocab, _ = m.tokEmbd.Dims()
	m.outputNorm = r.vector("output_norm.weight", c.Embd)
	if _, ok := f.Tensor("output.weight"); ok {
		m.output = r.matrix("output.weight", c.Vocab, c.Embd)
	} else {
		m.output = m.tokEmbd // tied embeddings, as llama.cpp loads them
	}
	m.outputBias = r.optionalVector("output.bias", c.Vocab)

	qDim, kvDim := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	m.layers = make([]layer, c.Layers)
	for i := range m.layers {
		name := func(s string) string { return fmt.Sprintf("blk.%d.%s", i, s) }
		m.layers[i] = layer{
			attnNorm: r.vector(name("attn_norm.weight"), c.Embd),
			wq:       r.matrix(name("attn_q.weight"), qDim, c.Embd),
			wk:       r.matrix(name("attn_k.weight"), kvDim, c.Embd),
			wv:       r.matrix(name("attn_v.weight"), kvDim, c.Embd),
			wo:       r.matrix(name("attn_output.weight"), c.Embd, qDim),
			bq:       r.optionalVector(name("attn_q.bias"), qDim),
			bk:       r.optionalVector(name("attn_k.bias"), kvDim),
			bv:       r.optionalVector(name("attn_v.bias"), kvDim),
			ffnNorm:  r.vector(name("ffn_norm.weight"), c.Embd),
			wGate:    r.matrix(name("ffn_gate.weight"), c.FF, c.Embd),
			wUp:      r.matrix(name("ffn_up.weight"), c.FF, c.Embd),
			wDown:    r.matrix(name("ffn_down.weight"), c.Embd, c.FF),
		}
	}
	return r.err
}

func (m *Model) readConfig(f *gguf.File, arch string) error {
	c := &m.cfg
	var err error
	readUint := func(key string, def int) int {
		v, e := f.Uint(arch + "." + key)
		switch {
		case e == nil:
			return int(v)
		case def >= 0 && errors.Is(e, gguf.ErrKeyNotFound):
			return def
		}
		err = errors.Join(err, e)
		return 0
	}
	readFloat := func(key string, def float64) float64 {
		v, e := f.Float(arch + "." + key)
		switch {
		case e == nil:
			return v
		case def >= 0 && errors.Is(e, gguf.ErrKeyNotFound):
			return def
		}
		err = errors.Join(err, e)
		return 0
	}
	c.Layers = readUint("block_count", -1)
	c.Embd = readUint("embedding_length", -1)
	c.FF = readUint("feed_forward_length", -1)
	c.Heads = readUint("attention.head_count", -1)
	c.RMSEps = readFloat("attention.layer_norm_rms_epsilon", -1)
	c.RopeBase = readFloat("rope.freq_base", 10000)
	if err != nil {
		return err
	}
	if c.Layers <= 0 || c.Embd <= 0 || c.FF <= 0 || c.Heads <= 0 {
		return fmt.Errorf("%w: sizes must be positive: %+v", ErrUnsupported, *c)
	}
	c.KVHeads = readUint("attention.head_count_kv", c.Heads)
	c.HeadDim = readUint("attention.key_length", c.Embd/c.Heads)
	valueDim := readUint("attention.value_length", c.HeadDim)
	rot := readUint("rope.dimension_count", c.HeadDim)
	if err != nil {
		return err
	}
	switch {
	case c.KVHeads <= 0 || c.Heads%c.KVHeads != 0:
		return fmt.Errorf("%w: %d key/value heads do not divide %d heads", ErrUnsupported, c.KVHeads, c.Heads)
	case c.HeadDim <= 0 || c.HeadDim%2 != 0 || valueDim != c.HeadDim || rot != c.HeadDim:
		// llama.cpp's qwen2 graph asserts these too.
		return fmt.Errorf("%w: head dimensions: key %d, value %d, rotary %d; want one even size", ErrUnsupported, c.HeadDim, valueDim, rot)
	}
	if t, e := f.String(arch + ".rope.scaling.type"); e == nil && t != "none" {
		return fmt.Errorf("%w: rope scaling %q", ErrUnsupported, t)
	}
	if s, e := f.Float(arch + ".rope.scale_linear"); e == nil && s != 1 {
		return fmt.Errorf("%w: rope scale %g", ErrUnsupported, s)
	}
	return nil
}

// tensorReader reads tensors into float64, keeping the first error so that
// a run of reads can be checked once.
type tensorReader struct {
	f   *gguf.File
	err error
}

// matrix reads the 2-D tensor name as a rows × cols matrix (rows < 0: any
// number of rows).
func (r *tensorReader) matrix(name string, rows, cols int) weight {
	if r.err != nil {
		return weight{}
	}
	info, ok := r.f.Tensor(name)
	if !ok {
		r.err = fmt.Errorf("%w: tensor %s is missing", ErrUnsupported, name)
		return weight{}
	}
	if len(info.Shape) != 2 || int(info.Shape[0]) != cols || (rows >= 0 && int(info.Shape[1]) != rows) {
		r.err = fmt.Errorf("%w: tensor %s has shape %v, want [%d %d]", ErrUnsupported, name, info.Shape, cols, rows)
		return weight{}
	}
	values, err := r.f.TensorFloat32(name)
	if err != nil {
		r.err = err
		return weight{}
	}
	return weight{Dense: mat.NewDense(int(info.Shape[1]), cols, widen(values)), half: info.Type == gguf.TypeF16}
}

func (r *tensorReader) vector(name string, n int) []float64 {
	if r.err != nil {
		return nil
	}
	if _, ok := r.f.Tensor(name); !ok {
		r.err = fmt.Errorf("%w: tensor %s is missing", ErrUnsupported, name)
		return nil
	}
	return r.optionalVector(name, n)
}

func (r *tensorReader) optionalVector(name string, n int) []float64 {
	if r.err != nil {
		return nil
	}
	info, ok := r.f.Tensor(name)
	if !ok {
		return nil
	}
	if len(info.Shape) != 1 || int(info.Shape[0]) != n {
		r.err = fmt.Errorf("%w: tensor %s has shape %v, want [%d]", ErrUnsupported, name, info.Shape, n)
		return nil
	}
	values, err := r.f.TensorFloat32(name)
	if err != nil {
		r.err = err
		return nil
	}
	return widen(values)
}

func widen(values []float32) []float64 {
	out := make([]float64, len(values))
	for i, v := range values {
		out[i] = float64(v)
	}
	return out
}

// half rounds x to the nearest IEEE half-precision value, as ggml does.
func half(x float64) float64 {
	return float64(gguf.Float16ToFloat32(gguf.Float32ToFloat16(float32(x))))
}

// roundHalf rounds every element of d to half precision in place.
func roundHalf(d *mat.Dense) {
	r, c := d.Dims()
	raw := d.RawMatrix()
	for i := range r {
		row := raw.Data[i*raw.Stride : i*raw.Stride+c]
		for j, v := range row {
			row[j] = half(v)
		}
	}
}
