package trace

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/go-rlm/rlm/interp"
	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/rlm"
)

// watch is what the tracer knows of one llama context: the hook points it
// resolved there and the tokens each sequence's KV cache holds.
type watch struct {
	// first is the graph's first node, computed for every token of a
	// micro-batch: the tracer reads each sequence's tokens there.
	first string
	plan  *plan // nil when the hook points could not be resolved
	// cached[s] is what sequence s's cache holds, as decoded under the
	// tracer's eyes: package llama keeps a prompt's start in the cache when
	// the previous prompt of the sequence began the same way, and decodes
	// only the rest. unknownToken marks positions decoded before the
	// tracer watched.
	cached [][]llama.Token
}

// unknownToken stands for a cached token the tracer did not see decoded.
const unknownToken llama.Token = -1

// plan is what the tracer hooks on one llama context, resolved the first
// time the context generates.
type plan struct {
	// points lists, per node, the hook points read from it (a derived
	// point under the node it is read from).
	points map[string][]interp.HookPoint
	// bases are the nodes whose rows derived points subtract.
	bases map[string]bool
	// nodes are the nodes to observe besides the first, in graph order.
	nodes []string
}

// newPlan resolves the tracer's hook points in the table h.
func newPlan(h *interp.Hooks, first string, cfg config) (*plan, error) {
	points, err := h.Match(cfg.hooks...)
	if err != nil {
		return nil, err
	}
	p := &plan{points: map[string][]interp.HookPoint{}, bases: map[string]bool{}}
	for _, pt := range points {
		if len(cfg.layers) > 0 && pt.Layer >= 0 && !slices.Contains(cfg.layers, pt.Layer) {
			continue
		}
		if strings.HasPrefix(pt.Node, "kq-") || strings.HasPrefix(pt.Node, "kq_soft_max-") {
			return nil, fmt.Errorf("hook point %s: attention patterns cannot be traced (their rows span the KV cache's cells)", pt.Name)
		}
		p.points[pt.Node] = append(p.points[pt.Node], pt)
		if pt.Derived() {
			p.bases[pt.Base] = true
		}
	}
	if len(p.points) == 0 {
		return nil, fmt.Errorf("no hook point of %v is in layers %v", cfg.hooks, cfg.layers)
	}
	for _, n := range h.Nodes() {
		if n != first && (p.points[n] != nil || p.bases[n]) {
			p.nodes = append(p.nodes, n)
		}
	}
	return p, nil
}

// watchOf returns what the tracer knows of c, resolving its hook points
// the first time. t.mu is held.
func (t *Tracer) watchOf(c *llama.Context) (*watch, error) {
	if w, ok := t.watches[c]; ok {
		return w, nil
	}
	h, err := interp.LoadHooks(context.Background(), c)
	if err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	nodes := h.Nodes()
	if len(nodes) == 0 {
		return nil, fmt.Errorf("trace: the model's graph has no hookable node")
	}
	w := &watch{first: nodes[0], cached: make([][]llama.Token, c.Sequences())}
	if w.plan, err = newPlan(h, w.first, t.cfg); err != nil {
		t.fail(fmt.Errorf("trace: %w", err))
	}
	t.watches[c] = w
	return w, nil
}

// generation is the capture of one batched generation.
type generation struct {
	t     *Tracer
	watch *watch
	model *llama.Model
	calls []rlm.SubCallInfo
	run   *runFile              // nil when no sub-call of a run is traced
	seqs  map[int]*subCallTrace // by the prompt's tag
	// unmatched are the nodes whose rows llama could not match to tokens,
	// reported once.
	unmatched map[string]bool
}

// generationHook watches every generation, sub-calls or not, to know what
// each sequence's cache holds, and records the hook points during the
// generations that serve sub-calls of a run.
func (t *Tracer) generationHook(c *llama.Context, calls []rlm.SubCallInfo) func() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	w, err := t.watchOf(c)
	if err != nil {
		t.fail(err)
		return nil
	}
	g := &generation{t: t, watch: w, model: c.Model(), calls: calls, seqs: map[int]*subCallTrace{}, unmatched: map[string]bool{}}
	nodes := []string{w.first}
	if t.run != nil && w.plan != nil && slices.ContainsFunc(calls, func(ci rlm.SubCallInfo) bool { return ci.ID != 0 }) {
		g.run = t.run
		nodes = append(nodes, w.plan.nodes...)
	}
	var removes []func()
	undo := func() {
		for _, r := range removes {
			r()
		}
	}
	for _, node := range nodes {
		remove, err := c.Observe(node, g.observe)
		if err != nil {
			undo()
			t.fail(fmt.Errorf("trace: observe %s: %w", node, err))
			return nil
		}
		removes = append(removes, remove)
	}
	return undo
}

// trace returns the sub-call trace of the prompt tagged tag, nil for
// prompts that are not traced. t.mu is held.
func (g *generation) trace(tag int) *subCallTrace {
	if s, ok := g.seqs[tag]; ok {
		return s
	}
	var s *subCallTrace
	if g.run != nil && g.run == g.t.run && tag >= 0 && tag < len(g.calls) && g.calls[tag].ID != 0 {
		call := g.calls[tag]
		s = g.run.pending[call.ID]
		if s == nil {
			s = &subCallTrace{call: call, model: g.model, bases: map[baseKey][]float32{}}
			g.run.pending[call.ID] = s
		}
	}
	g.seqs[tag] = s
	return s
}

// observe records the rows of one node. It never fails the decode: a
// problem is kept for Tracer.Err.
func (g *generation) observe(a *llama.Activation) error {
	if len(a.Data) == 0 {
		return nil
	}
	g.t.mu.Lock()
	defer g.t.mu.Unlock()
	if a.Tokens == nil {
		if !g.unmatched[a.Name] {
			g.unmatched[a.Name] = true
			g.t.fail(fmt.Errorf("trace: node %s of shape %v: its rows cannot be matched to tokens, so it is not recorded", a.Name, a.Shape))
		}
		return nil
	}
	first := a.Name == g.watch.first
	var points []interp.HookPoint
	var isBase bool
	if g.watch.plan != nil {
		points, isBase = g.watch.plan.points[a.Name], g.watch.plan.bases[a.Name]
	}
	for i, tok := range a.Tokens {
		if first {
			g.watch.see(tok)
		}
		s := g.trace(tok.Tag)
		if s == nil {
			continue
		}
		if first {
			s.see(tok, g.watch.cached[tok.Seq])
		}
		kind := s.kind(tok.Pos)
		if !g.t.cfg.positions.wants(kind) || (len(points) == 0 && !isBase) {
			continue
		}
		row := interp.TokenRow(nil, a, i)
		if isBase {
			s.bases[baseKey{a.Name, tok.Pos}] = row
		}
		for _, pt := range points {
			values := slices.Clone(row)
			if pt.Derived() {
				base, ok := s.bases[baseKey{pt.Base, tok.Pos}]
				if !ok || len(base) != len(values) {
					continue
				}
				for j := range values {
					values[j] -= base[j]
				}
			}
			s.rows = append(s.rows, capturedRow{hook: pt.Name, layer: pt.Layer, pos: tok.Pos, kind: kind, values: values})
		}
	}
	return nil
}

// subCallTrace is what was captured of one sub-call, waiting for its
// answer.
type subCallTrace struct {
	call      rlm.SubCallInfo
	model     *llama.Model
	promptLen int           // 0 until the prompt's last token was decoded
	prompt    []llama.Token // known once the prompt's last token was decoded
	generated []llama.Token // the answer's tokens read back, from position promptLen
	rows      []capturedRow
	bases     map[baseKey][]float32 // rows derived hook points subtract
}

type capturedRow struct {
	hook   string
	layer  int
	pos    int
	kind   string
	values []float32
}

type baseKey struct {
	node string
	pos  int
}

// see records that tok was decoded into its sequence: the cache now holds
// what it held before tok's position, then tok.
func (w *watch) see(tok llama.TokenRef) {
	if tok.Seq < 0 || tok.Seq >= len(w.cached) {
		return
	}
	c := w.cached[tok.Seq]
	for len(c) < tok.Pos {
		c = append(c, unknownToken)
	}
	w.cached[tok.Seq] = append(c[:tok.Pos], tok.Token)
}

// see records a token of the sub-call's sequence, with what the sequence's
// cache holds once it is decoded. The prompt's last token is the first to
// ask for logits: the prompt is then the cache's content, the start that
// package llama kept from an earlier prompt included; every later token is
// the answer read back.
func (s *subCallTrace) see(tok llama.TokenRef, cached []llama.Token) {
	switch {
	case s.promptLen == 0 && tok.Logits:
		s.promptLen = tok.Pos + 1
		s.prompt = slices.Clone(cached[:s.promptLen])
	case s.promptLen > 0 && tok.Pos >= s.promptLen:
		s.generated = append(s.generated[:tok.Pos-s.promptLen], tok.Token)
	}
}

// kind says whether a position is in the prompt, its last token, or the
// answer.
func (s *subCallTrace) kind(pos int) string {
	switch {
	case s.promptLen == 0 || pos < s.promptLen-1:
		return KindPrompt
	case pos == s.promptLen-1:
		return KindPromptLast
	}
	return KindGenerated
}

// token returns the token at pos, unknownToken when it was not seen.
func (s *subCallTrace) token(pos int) llama.Token {
	switch {
	case pos < len(s.prompt):
		return s.prompt[pos]
	case pos-s.promptLen < len(s.generated):
		return s.generated[pos-s.promptLen]
	}
	return unknownToken
}
