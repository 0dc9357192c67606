package llamatest

import (
	"fmt"

	"github.com/go-rlm/rlm/llama/gguf"
)

// Config describes a generated model. A zero field takes the default that its
// comment states; [DefaultConfig] returns every default filled in.
type Config struct {
	Layers  int       // transformer blocks (qwen2.block_count); default 4
	Embd    int       // embedding width (qwen2.embedding_length); default 64
	Heads   int       // attention heads; default 4
	KVHeads int       // key/value heads (grouped-query attention); default 2
	FF      int       // feed-forward width (qwen2.feed_forward_length); default 128
	Context int       // trained context length (qwen2.context_length); default 4096
	Type    gguf.Type // type of the 2-D weights: F32 (the zero value), F16 or BF16; norms and biases are always F32
	Seed    int64     // seed of the weights; every seed, 0 included, is used as given
	Name    string    // general.name; default "llamatest"

	RopeBase float32 // qwen2.rope.freq_base; default 1e6 (Qwen2.5's)
	NormEps  float32 // qwen2.attention.layer_norm_rms_epsilon; default 1e-6 (Qwen2.5's)
	// TiedEmbeddings leaves out output.weight, so that llama.cpp computes
	// the logits with token_embd.weight, as Qwen2.5 up to 3B does.
	TiedEmbeddings bool
	// Vocab is the tokenizer; nil means [ByteVocab]. Its length is the
	// number of rows of the embedding and output matrices.
	Vocab *Vocab
}

// Defaults of the zero fields of a [Config].
const (
	defaultLayers  = 4
	defaultEmbd    = 64
	defaultHeads   = 4
	defaultKVHeads = 2
	defaultFF      = 128
	defaultContext = 4096
	defaultName    = "llamatest"

	defaultRopeBase = 1e6
	defaultNormEps  = 1e-6
)

// DefaultConfig returns the default model: 4 layers, n_embd 64, 4 heads, 2
// key/value heads, n_ff 128, RoPE base 1e6, norm epsilon 1e-6, F32
// weights, seed 0, the byte vocabulary (Vocab nil) and an output matrix of
// its own.
func DefaultConfig() Config { return Config{}.withDefaults() }

func (c Config) withDefaults() Config {
	fill := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	fill(&c.Layers, defaultLayers)
	fill(&c.Embd, defaultEmbd)
	fill(&c.Heads, defaultHeads)
	fill(&c.KVHeads, defaultKVHeads)
	fill(&c.FF, defaultFF)
	fill(&c.Context, defaultContext)
	if c.Name == "" {
		c.Name = defaultName
	}
	if c.RopeBase == 0 {
		c.RopeBase = defaultRopeBase
	}
	if c.NormEps == 0 {
		c.NormEps = defaultNormEps
	}
	return c
}

// Validate reports whether llama.cpp can build the model c describes (after
// defaults): positive sizes, heads dividing the embedding width into even
// head dimensions (rotary embeddings rotate pairs), key/value heads dividing
// the heads, and a supported weight type.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Layers < 0 || c.Layers > 512:
		return fmt.Errorf("llamatest: %d layers, want 1 to 512", c.Layers)
	case c.Embd < 0 || c.Heads < 0 || c.KVHeads < 0 || c.FF < 0 || c.Context < 0:
		return fmt.Errorf("llamatest: negative size in %+v", c)
	case c.Embd%c.Heads != 0 || (c.Embd/c.Heads)%2 != 0:
		return fmt.Errorf("llamatest: embedding width %d does not split into %d heads of an even size", c.Embd, c.Heads)
	case c.Heads%c.KVHeads != 0:
		return fmt.Errorf("llamatest: %d key/value heads do not divide %d heads", c.KVHeads, c.Heads)
	case c.Type != gguf.TypeF32 && c.Type != gguf.TypeF16 && c.Type != gguf.TypeBF16:
		return fmt.Errorf("llamatest: weight type %v, want F32, F16 or BF16", c.Type)
	case c.RopeBase < 0 || c.NormEps < 0:
		return fmt.Errorf("llamatest: negative RoPE base or norm epsilon in %+v", c)
	}
	if c.Vocab != nil {
		return c.Vocab.Validate()
	}
	return nil
}

// fileType returns general.file_type for the weight type.
func (c Config) fileType() gguf.FileType {
	switch c.Type {
	case gguf.TypeF16:
		return gguf.FileTypeMostlyF16
	case gguf.TypeBF16:
		return gguf.FileTypeMostlyBF16
	}
	return gguf.FileTypeAllF32
}

// vocab returns the model's vocabulary.
func (c Config) vocab() *Vocab {
	if c.Vocab != nil {
		return c.Vocab
	}
	return ByteVocab()
}
