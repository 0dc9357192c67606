package llamatest

import (
	"fmt"
	"slices"
	"strings"
)

// Shape is the architecture of a published model, as its config.json gives
// it: what a generated model needs to cost what the real one costs.
type Shape struct {
	Name           string  // "qwen2.5-0.5b"
	Layers         int     // num_hidden_layers
	Embd           int     // hidden_size
	Heads          int     // num_attention_heads
	KVHeads        int     // num_key_value_heads
	FF             int     // intermediate_size
	Context        int     // max_position_embeddings
	RopeBase       float32 // rope_theta
	NormEps        float32 // rms_norm_eps
	VocabSize      int     // vocab_size: rows of the embedding and output matrices
	TiedEmbeddings bool    // tie_word_embeddings
	BOS            int     // bos_token_id, for a tokenizer_config.json that names none
}

// qwen25Shapes are the Qwen2.5 Instruct models, from the config.json files
// published with Qwen/Qwen2.5-{0.5B,1.5B,3B,7B,14B}-Instruct on the
// Hugging Face Hub (2024-09). All have QKV biases, SwiGLU feed-forward
// layers, RoPE base 1e6, RMSNorm epsilon 1e-6 (the Instruct files; the 14B
// base model says 1e-5), bos_token_id 151643 and a 32,768-token context;
// the three smallest tie their output matrix to the embeddings, and the
// 7B and 14B pad their vocabulary to 152,064 instead of 151,936.
var qwen25Shapes = []Shape{
	{Name: "qwen2.5-0.5b", Layers: 24, Embd: 896, Heads: 14, KVHeads: 2, FF: 4864, VocabSize: 151936, TiedEmbeddings: true},
	{Name: "qwen2.5-1.5b", Layers: 28, Embd: 1536, Heads: 12, KVHeads: 2, FF: 8960, VocabSize: 151936, TiedEmbeddings: true},
	{Name: "qwen2.5-3b", Layers: 36, Embd: 2048, Heads: 16, KVHeads: 2, FF: 11008, VocabSize: 151936, TiedEmbeddings: true},
	{Name: "qwen2.5-7b", Layers: 28, Embd: 3584, Heads: 28, KVHeads: 4, FF: 18944, VocabSize: 152064},
	{Name: "qwen2.5-14b", Layers: 48, Embd: 5120, Heads: 40, KVHeads: 8, FF: 13824, VocabSize: 152064},
}

func init() {
	for i := range qwen25Shapes {
		s := &qwen25Shapes[i]
		s.Context, s.RopeBase, s.NormEps, s.BOS = 32768, 1e6, 1e-6, 151643
	}
}

// Shapes returns the shapes [ShapeNamed] knows: Qwen2.5 0.5B, 1.5B, 3B, 7B
// and 14B.
func Shapes() []Shape { return slices.Clone(qwen25Shapes) }

// ShapeNamed returns the shape called name ("qwen2.5-0.5b"; case does not
// matter).
func ShapeNamed(name string) (Shape, error) {
	for _, s := range qwen25Shapes {
		if strings.EqualFold(s.Name, name) {
			return s, nil
		}
	}
	names := make([]string, len(qwen25Shapes))
	for i, s := range qwen25Shapes {
		names[i] = s.Name
	}
	return Shape{}, fmt.Errorf("llamatest: no shape %q; known: %s", name, strings.Join(names, ", "))
}

// Config returns the config of a model of this shape with vocab (nil means
// [ByteVocab]), padded to the shape's vocabulary size as llama.cpp's
// converter pads it, and the shape's BOS where the vocabulary names none.
// vocab itself is not changed. Set Layers on the result to keep the real
// widths with fewer layers.
func (s Shape) Config(vocab *Vocab) Config {
	if vocab == nil {
		vocab = ByteVocab()
	}
	v := vocab.clone()
	if v.Len() < s.VocabSize {
		v.Resize(s.VocabSize)
	}
	if v.BOS == NoToken && s.BOS < v.Len() {
		v.BOS = s.BOS
	}
	return Config{
		Layers: s.Layers, Embd: s.Embd, Heads: s.Heads, KVHeads: s.KVHeads, FF: s.FF,
		Context: s.Context, RopeBase: s.RopeBase, NormEps: s.NormEps,
		TiedEmbeddings: s.TiedEmbeddings, Vocab: v, Name: s.Name,
	}
}
