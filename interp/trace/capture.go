package trace

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/go-rlm/rlm/interp"
	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/local"
)

// plan is what the tracer hooks on one llama context, resolved the first
// time the context serves a traced sub-call.
type plan struct {
	// points lists, per node, the hook points read from it (a derived
	// point under the node it is read from).
	points map[string][]interp.HookPoint
	// bases are the nodes whose rows derived points subtract.
	bases map[string]bool
	// nodes are the nodes to observe, in graph order.
	nodes []string
}

// newPlan resolves the tracer's hook points in the table h.
func newPlan(h *interp.Hooks, cfg config) (*plan, error) {
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
		if p.points[n] != nil || p.bases[n] {
			p.nodes = append(p.nodes, n)
		}
	}
	return p, nil
}

// planOf returns the tracer's plan for c, resolving its hook points the
// first time; nil when they cannot be resolved, a reason reported once.
// t.mu is held.
func (t *Tracer) planOf(c *llama.Context) *plan {
	p, ok := t.plans[c]
	if ok {
		return p
	}
	h, err := interp.LoadHooks(context.Background(), c)
	if err == nil {
		p, err = newPlan(h, t.cfg)
	}
	if err != nil {
		t.fail(fmt.Errorf("trace: %w", err))
	}
	t.plans[c] = p
	return p
}

// generation is the capture of one batched generation.
type generation struct {
	t     *Tracer
	plan  *plan
	model *llama.Model
	calls []rlm.SubCallInfo
	// prompts[i] are prompt i's tokens, for the prompts that are sub-calls.
	prompts [][]llama.Token
	run     *runFile
	seqs    map[int]*subCallTrace // by the prompt's tag
	// unmatched are the nodes whose rows llama could not match to tokens,
	// reported once.
	unmatched map[string]bool
}

// isSubCall reports whether a prompt answers a sub-call.
func isSubCall(ci rlm.SubCallInfo) bool { return ci.ID != 0 }

// generationHook records the hook points during the generations that serve
// sub-calls of a run; other generations run unobserved.
func (t *Tracer) generationHook(gen local.Generation) func() {
	if !slices.ContainsFunc(gen.Calls, isSubCall) {
		return nil
	}
	// The prompts' tokens, as the worker decodes them.
	model := gen.Context.Model()
	prompts := make([][]llama.Token, len(gen.Calls))
	for i, ci := range gen.Calls {
		if isSubCall(ci) && i < len(gen.Prompts) {
			prompts[i] = gen.Prompts[i]
		}
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || t.run == nil {
		return nil
	}
	p := t.planOf(gen.Context)
	if p == nil {
		return nil
	}
	g := &generation{t: t, plan: p, model: model, calls: gen.Calls, prompts: prompts, run: t.run,
		seqs: map[int]*subCallTrace{}, unmatched: map[string]bool{}}
	var removes []func()
	undo := func() {
		for _, r := range removes {
			r()
		}
	}
	for _, node := range p.nodes {
		remove, err := gen.Context.Observe(node, g.observe)
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
	if g.run == g.t.run && tag >= 0 && tag < len(g.calls) && len(g.prompts[tag]) > 0 {
		call := g.calls[tag]
		s = g.run.pending[call.ID]
		if s == nil {
			s = &subCallTrace{call: call, model: g.model, prompt: g.prompts[tag], bases: map[baseKey][]float32{}}
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
	points, isBase := g.plan.points[a.Name], g.plan.bases[a.Name]
	for i, tok := range a.Tokens {
		s := g.trace(tok.Tag)
		if s == nil {
			continue
		}
		s.see(tok)
		kind := s.kind(tok.Pos)
		if !g.t.cfg.positions.wants(kind) {
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
			s.rows = append(s.rows, capturedRow{hook: pt.Name, layer: pt.Layer, pos: tok.Pos, token: tok.Token, kind: kind, values: values})
		}
	}
	return nil
}

// subCallTrace is what was captured of one sub-call, waiting for its
// answer.
type subCallTrace struct {
	call      rlm.SubCallInfo
	model     *llama.Model
	prompt    []llama.Token // the whole prompt, a start kept in the cache included
	generated []llama.Token // the answer's tokens read back, from position len(prompt)
	rows      []capturedRow
	bases     map[baseKey][]float32 // rows derived hook points subtract
}

type capturedRow struct {
	hook   string
	layer  int
	pos    int
	token  llama.Token
	kind   string
	values []float32
}

type baseKey struct {
	node string
	pos  int
}

// see records a token of the sub-call's sequence: past the prompt, the
// answer read back. Every observed node reports each answer token (they
// all ask for logits, so even the last layer keeps their rows): the same
// one comes once per node.
func (s *subCallTrace) see(tok llama.TokenRef) {
	if i := tok.Pos - len(s.prompt); i >= 0 && i <= len(s.generated) {
		s.generated = append(s.generated[:i], tok.Token)
	}
}

// tokens returns copies of the prompt and of the answer read back: a
// generation that the run's end cut short may still be adding to them.
func (s *subCallTrace) tokens() (prompt, generated []llama.Token) {
	return slices.Clone(s.prompt), slices.Clone(s.generated)
}

// kind says whether a position is in the prompt, its last token, or the
// answer.
func (s *subCallTrace) kind(pos int) string {
	switch {
	case pos < len(s.prompt)-1:
		return KindPrompt
	case pos == len(s.prompt)-1:
		return KindPromptLast
	}
	return KindGenerated
}
