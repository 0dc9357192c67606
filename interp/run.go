package interp

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-rlm/rlm/llama"
)

// ErrMemoryLimit means a run would capture more than [WithMemoryLimit]
// allows; it was refused before decoding anything.
var ErrMemoryLimit = errors.New("interp: capture exceeds the memory limit")

// RunOption configures [RunWithCache], [RunWithHooks] and [EstimateMemory].
type RunOption func(*runConfig)

type runConfig struct {
	patches   []Patch
	allLogits bool
	memLimit  int64
	// outputAll asks llama.cpp for logits at every position without keeping
	// them, so that runs compare exactly with runs that need them (the
	// last layer's matrices are multiplied by another kernel then).
	outputAll bool
}

func newRunConfig(opts []RunOption) runConfig {
	var cfg runConfig
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// WithPatches applies patches to every prompt of the run. Default: none.
func WithPatches(patches ...Patch) RunOption {
	return func(c *runConfig) { c.patches = append(c.patches, patches...) }
}

// WithAllLogits keeps the logits at every position ([Cache.LogitsAt]), not
// only at each prompt's last token. Default: last token only.
func WithAllLogits() RunOption { return func(c *runConfig) { c.allLogits = true } }

// WithMemoryLimit refuses a run whose [EstimateMemory] exceeds bytes, with
// an error wrapping [ErrMemoryLimit]. Estimating costs one decode of one
// token. Default: no limit.
func WithMemoryLimit(bytes int64) RunOption { return func(c *runConfig) { c.memLimit = bytes } }

// Filter selects the hook points a run captures: [Names] or [FilterFunc].
// The zero Filter selects nothing. A Filter is safe for concurrent use if
// its function is.
type Filter struct {
	names []string
	fn    func(HookPoint) bool
}

// Names selects hook points by TransformerLens name ("blocks.3.hook_resid_post"),
// raw node name ("l_out-3") or path.Match pattern over both
// ("blocks.*.hook_resid_post"). A name or pattern the model lacks fails the
// run with a [*HookNameError].
func Names(names ...string) Filter { return Filter{names: names} }

// FilterFunc selects the hook points of [Hooks.Points] for which fn is
// true, as TransformerLens's names_filter function does.
func FilterFunc(fn func(HookPoint) bool) Filter { return Filter{fn: fn} }

func (f Filter) resolve(h *Hooks) ([]HookPoint, error) {
	pts, err := h.Match(f.names...)
	if err != nil {
		return nil, err
	}
	if f.fn != nil {
		for _, p := range h.Points() {
			if f.fn(p) {
				pts = append(pts, p)
			}
		}
	}
	return pts, nil
}

// RunWithCache decodes each prompt and captures the activations the filter
// selects, as TransformerLens's run_with_cache does: one matrix per hook
// point and prompt, a row per token position, stitched across micro-batches.
// Capturing a node of the last layer makes the run ask for logits at every
// position, since llama.cpp keeps only those rows there.
//
// The run uses c's KV cache: it clears it before each group of prompts, and
// decodes up to c.Sequences() prompts at once, one per sequence (one at a
// time when attention patterns are involved). Hooks live for this run only.
func RunWithCache(ctx context.Context, c *llama.Context, prompts [][]llama.Token, filter Filter, opts ...RunOption) (*Cache, error) {
	return runPrompts(ctx, c, "run with cache", prompts, filter, newRunConfig(opts))
}

// RunWithHooks decodes each prompt with patches applied, as
// TransformerLens's run_with_hooks does, and returns a Cache holding the
// logits (and whatever [WithPatches] adds; nothing is captured).
func RunWithHooks(ctx context.Context, c *llama.Context, prompts [][]llama.Token, patches []Patch, opts ...RunOption) (*Cache, error) {
	cfg := newRunConfig(opts)
	cfg.patches = append(append([]Patch(nil), patches...), cfg.patches...)
	return runPrompts(ctx, c, "run with hooks", prompts, Filter{}, cfg)
}

func runPrompts(ctx context.Context, c *llama.Context, op string, prompts [][]llama.Token, filter Filter, cfg runConfig) (*Cache, error) {
	jobs := make([]job, len(prompts))
	for i, p := range prompts {
		jobs[i] = job{tokens: p}
	}
	p, err := newPlan(ctx, c, jobs, filter, cfg)
	if err != nil {
		return nil, fmt.Errorf("interp: %s: %w", op, err)
	}
	if cfg.memLimit > 0 {
		est, err := p.estimate(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("interp: %s: %w", op, err)
		}
		if est > cfg.memLimit {
			return nil, fmt.Errorf("interp: %s: %w: %d bytes estimated, limit %d", op, ErrMemoryLimit, est, cfg.memLimit)
		}
	}
	if err := p.run(ctx, c); err != nil {
		return nil, fmt.Errorf("interp: %s: %w", op, err)
	}
	return p.cache(c.Model()), nil
}

// EstimateMemory returns the bytes a RunWithCache with these arguments
// would hold: the captured matrices (float64), the values kept to derive
// hook_attn_out, and the logits kept. It decodes one probe token (at the end
// of sequence 0, removed again) to learn each node's width.
func EstimateMemory(ctx context.Context, c *llama.Context, prompts [][]llama.Token, filter Filter, opts ...RunOption) (int64, error) {
	jobs := make([]job, len(prompts))
	for i, p := range prompts {
		jobs[i] = job{tokens: p}
	}
	p, err := newPlan(ctx, c, jobs, filter, newRunConfig(opts))
	if err != nil {
		return 0, fmt.Errorf("interp: estimate memory: %w", err)
	}
	n, err := p.estimate(ctx, c)
	if err != nil {
		return 0, fmt.Errorf("interp: estimate memory: %w", err)
	}
	return n, nil
}
