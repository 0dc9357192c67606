package trace

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/go-rlm/rlm/interp/export"
)

// Positions selects the token positions of a sub-call that are recorded. It
// is a set: combine kinds with |.
type Positions int

const (
	// PromptLast is the last token of the prompt: its residual stream
	// chose the first token of the answer.
	PromptLast Positions = 1 << iota
	// Generated are the answer's tokens as they are read back: the row at
	// a generated token's position is the state that chooses the next one.
	// A last token that ended the answer by the length limit or a stop
	// string is never read back and has no row; one followed by the model's
	// end of generation has.
	Generated
	// Prompt is every token of the prompt, the last one included. In the
	// last layer, llama.cpp computes the nodes from hook_resid_mid on
	// (ffn_inp) only at the last prompt token, so those hook points have no
	// rows at the other prompt positions; nor has a prompt's start that the
	// worker kept in its cache from an earlier prompt (see the package
	// documentation).
	Prompt
)

// The values of the position_kind column.
const (
	KindPrompt     = "prompt"
	KindPromptLast = "prompt_last"
	KindGenerated  = "generated"
)

func (p Positions) String() string {
	var kinds []string
	for _, k := range []struct {
		bit  Positions
		name string
	}{{PromptLast, KindPromptLast}, {Generated, KindGenerated}, {Prompt, KindPrompt}} {
		if p&k.bit != 0 {
			kinds = append(kinds, k.name)
		}
	}
	if len(kinds) == 0 {
		return "none"
	}
	return strings.Join(kinds, "|")
}

// wants reports whether a row of the kind is recorded.
func (p Positions) wants(kind string) bool {
	switch kind {
	case KindPromptLast:
		return p&(PromptLast|Prompt) != 0
	case KindPrompt:
		return p&Prompt != 0
	case KindGenerated:
		return p&Generated != 0
	}
	return false
}

// Option configures [New].
type Option func(*config)

type config struct {
	hooks     []string
	layers    []int
	positions Positions
	prefix    string
	export    []export.Option
	logger    *slog.Logger
}

// WithHooks chooses the hook points recorded: TransformerLens names
// ("blocks.3.hook_resid_post"), raw llama.cpp node names ("l_out-3"), or
// path.Match patterns over either ("blocks.*.hook_attn_out"), as package
// interp resolves them. Attention patterns cannot be traced (their rows
// span the KV cache). Default: "blocks.*.hook_resid_post", the residual
// stream after every layer.
func WithHooks(names ...string) Option {
	return func(c *config) { c.hooks = append([]string(nil), names...) }
}

// WithLayers keeps only the hook points of these layers (hook points
// outside the blocks, such as ln_final.hook_normalized, are kept). Default:
// every layer.
func WithLayers(layers ...int) Option {
	return func(c *config) { c.layers = append([]int(nil), layers...) }
}

// WithPositions chooses the positions recorded. Default PromptLast |
// Generated.
func WithPositions(p Positions) Option { return func(c *config) { c.positions = p } }

// WithPrefix sets the first part of the trace files' names,
// PREFIX-NNN.parquet. Default "run".
func WithPrefix(prefix string) Option { return func(c *config) { c.prefix = prefix } }

// WithExportOptions passes options to the Parquet writer, such as
// export.WithCompression. Extra columns are the tracer's own. Default:
// export's defaults.
func WithExportOptions(opts ...export.Option) Option {
	return func(c *config) { c.export = append(c.export, opts...) }
}

// WithLogger sets the logger that reports problems the tracer cannot
// return from a hook or observer (they are also kept for [Tracer.Err]).
// Default: slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

func newConfig(opts []Option) (config, error) {
	c := config{hooks: []string{"blocks.*.hook_resid_post"}, positions: PromptLast | Generated, prefix: "run", logger: slog.Default()}
	for _, o := range opts {
		o(&c)
	}
	switch {
	case len(c.hooks) == 0:
		return c, fmt.Errorf("no hook points")
	case c.positions == 0 || c.positions&^(PromptLast|Generated|Prompt) != 0:
		return c, fmt.Errorf("positions %d: want a combination of PromptLast, Generated and Prompt", int(c.positions))
	case c.prefix == "" || strings.ContainsAny(c.prefix, `/\`):
		return c, fmt.Errorf("file prefix %q: want a plain file name", c.prefix)
	}
	return c, nil
}
