package interp

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/go-rlm/rlm/llama"
)

// Metric scores a run from its next-token logits at the last position:
// [LogitDiff], or a function of the caller's.
type Metric func(logits []float32) float64

// LogitDiff is the logit of correct minus the logit of wrong, the usual
// metric of activation-patching experiments.
func LogitDiff(correct, wrong llama.Token) Metric {
	return func(logits []float32) float64 { return float64(logits[correct]) - float64(logits[wrong]) }
}

// SweepOption configures [ActivationPatching].
type SweepOption func(*sweepConfig)

type sweepConfig struct {
	layers, positions []int
	byHead            bool
	noising           bool
}

// SweepLayers restricts the sweep to these layers. Default: every layer.
func SweepLayers(layers ...int) SweepOption {
	return func(c *sweepConfig) { c.layers = slices.Clone(layers) }
}

// SweepPositions restricts the sweep to these positions. Default: every
// position.
func SweepPositions(pos ...int) SweepOption {
	return func(c *sweepConfig) { c.positions = slices.Clone(pos) }
}

// ByHead patches each attention head on its own, for hook points with heads
// (z, q, k, pattern). Default: the whole activation at once.
func ByHead() SweepOption { return func(c *sweepConfig) { c.byHead = true } }

// Noising runs the clean prompt and patches in the corrupted activations,
// measuring what breaks the behaviour; the default (denoising) runs the
// corrupted prompt and patches in clean activations, measuring what restores
// it.
func Noising() SweepOption { return func(c *sweepConfig) { c.noising = true } }

// PatchRow is one patched run of a sweep.
type PatchRow struct {
	Layer    int
	Position int
	Head     int     // -1 unless the sweep was ByHead
	Value    float64 // the metric of the patched run
}

// PatchTable is the tidy result of an activation-patching sweep: one row
// per patched layer, position (and head), with the metric of the unpatched
// clean and corrupted runs to compare against. A PatchTable is safe for
// concurrent reads.
type PatchTable struct {
	Kind      string // the hook kind swept, as ActName takes it ("resid_pre")
	Clean     float64
	Corrupted float64
	Noising   bool
	Heads     int // heads per layer in a ByHead sweep, else 0
	Rows      []PatchRow
	// Labels name the positions: the tokens of the clean and corrupted
	// prompts, as "clean" or "clean→corrupted" where they differ.
	Labels []string
}

// Normalized maps a metric value onto the scale where the corrupted run
// is 0 and the clean run is 1: the fraction of the behaviour a patch
// restores (denoising) or keeps (noising).
func (t *PatchTable) Normalized(v float64) float64 {
	return (v - t.Corrupted) / (t.Clean - t.Corrupted)
}

// WriteCSV writes the table with a header: layer, position, head (-1 for
// none), label, value, normalized.
func (t *PatchTable) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"layer", "position", "head", "label", "value", "normalized"})
	for _, r := range t.Rows {
		label := ""
		if r.Position < len(t.Labels) {
			label = t.Labels[r.Position]
		}
		_ = cw.Write([]string{
			strconv.Itoa(r.Layer), strconv.Itoa(r.Position), strconv.Itoa(r.Head), label,
			strconv.FormatFloat(r.Value, 'g', -1, 64), strconv.FormatFloat(t.Normalized(r.Value), 'g', -1, 64),
		})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("interp: write patch table: %w", err)
	}
	return nil
}

// ActivationPatching runs an activation-patching sweep: the clean and the
// corrupted prompt (of equal length, so that positions line up) are run
// once each; then, for every layer and position (and head, with [ByHead]),
// the corrupted prompt is run again with that one activation of hook kind
// kind ("resid_pre", "attn_out", "mlp_out", "z", ...; see [ActName]) replaced
// by its clean value, and metric scores the logits. The patched runs are
// decoded c.Sequences() at a time, each in its own sequence.
func ActivationPatching(ctx context.Context, c *llama.Context, clean, corrupted []llama.Token, metric Metric, kind string, opts ...SweepOption) (*PatchTable, error) {
	const op = "interp: activation patching"
	var cfg sweepConfig
	for _, o := range opts {
		o(&cfg)
	}
	if len(clean) != len(corrupted) || len(clean) == 0 {
		return nil, fmt.Errorf("%s: the clean and corrupted prompts have %d and %d tokens; they must be as long, and not empty", op, len(clean), len(corrupted))
	}
	if metric == nil {
		return nil, errors.New(op + ": nil metric")
	}
	h, err := LoadHooks(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if cfg.layers == nil {
		for l := 0; l < h.Layers(); l++ {
			cfg.layers = append(cfg.layers, l)
		}
	}
	if cfg.positions == nil {
		for p := range clean {
			cfg.positions = append(cfg.positions, p)
		}
	}
	for _, p := range cfg.positions {
		if p < 0 || p >= len(clean) {
			return nil, fmt.Errorf("%s: position %d outside the prompt's %d tokens", op, p, len(clean))
		}
	}
	names := make([]string, len(cfg.layers))
	for i, l := range cfg.layers {
		names[i] = ActName(kind, l)
		if _, err := h.Resolve(names[i]); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}

	source, target := clean, corrupted
	if cfg.noising {
		source, target = corrupted, clean
	}
	src, err := RunWithCache(ctx, c, [][]llama.Token{source}, Names(names...))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	t := &PatchTable{Kind: kind, Noising: cfg.noising, Labels: positionLabels(c.Model(), clean, corrupted)}
	heads := []int{-1}
	if cfg.byHead {
		t.Heads = src.Heads(names[0])
		if t.Heads == 0 {
			return nil, fmt.Errorf("%s: %s has no heads to patch one by one", op, names[0])
		}
		heads = heads[:0]
		for hd := 0; hd < t.Heads; hd++ {
			heads = append(heads, hd)
		}
	}
	var jobs []job
	for i, l := range cfg.layers {
		for _, pos := range cfg.positions {
			for _, hd := range heads {
				popts := []PatchOption{AtPositions(pos)}
				if hd >= 0 {
					popts = append(popts, OnHeads(hd))
				}
				jobs = append(jobs, job{tokens: target, patches: []Patch{ReplaceFrom(names[i], src, 0, popts...)}})
				t.Rows = append(t.Rows, PatchRow{Layer: l, Position: pos, Head: hd})
			}
		}
	}
	p, err := newPlan(ctx, c, jobs, Filter{}, runConfig{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	// The unpatched target runs as the patched ones do, logits everywhere
	// or not, so that a patch that changes nothing scores exactly the same.
	base, err := runPrompts(ctx, c, op, [][]llama.Token{target}, Filter{}, runConfig{outputAll: p.allLogits})
	if err != nil {
		return nil, err
	}
	t.Clean, t.Corrupted = metric(src.Logits(0)), metric(base.Logits(0))
	if cfg.noising {
		t.Clean, t.Corrupted = t.Corrupted, t.Clean
	}
	p.onLogits = func(job int, logits []float32) { t.Rows[job].Value = metric(logits) }
	if err := p.run(ctx, c); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return t, nil
}

// positionLabels names each position by its clean token, or
// "clean→corrupted" where the prompts differ.
func positionLabels(m *llama.Model, clean, corrupted []llama.Token) []string {
	piece := func(t llama.Token) string {
		s, err := m.TokenPiece(t, true)
		if err != nil {
			return strconv.Itoa(int(t))
		}
		return strconv.Quote(s)[1 : len(strconv.Quote(s))-1]
	}
	labels := make([]string, len(clean))
	for i := range clean {
		labels[i] = piece(clean[i])
		if corrupted[i] != clean[i] {
			labels[i] += "→" + piece(corrupted[i])
		}
	}
	return labels
}
