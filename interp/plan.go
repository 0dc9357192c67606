package interp

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/go-rlm/rlm/llama"
)

// job is one prompt of a run, with the patches that apply to it alone
// (sweeps run many jobs that differ only in their patches).
type job struct {
	tokens  []llama.Token
	patches []Patch
}

// plan is one run's hooks: what each node's hook patches and captures, and
// where the captured rows go.
type plan struct {
	hooks     *Hooks
	nHead     int
	vocab     int
	jobs      []job
	requested []HookPoint // captures asked for, in order
	attached  bool        // Attach: rows are keyed by sequence, not by job
	allLogits bool        // ask llama.cpp for logits at every position
	keepAll   bool        // keep them (WithAllLogits)
	oneStream bool        // decode one job at a time

	nodes map[string]*nodeHook // by node name
	order []*nodeHook          // registration order

	// Results, per capture key and job.
	captured map[string][]*mat.Dense
	rowsSeen map[string][]int
	heads    map[string]int
	logits   [][]float32   // per job: the last position's logits
	allLog   [][][]float32 // per job and position, with keepAll
	// onLogits, when set, receives each job's last logits instead of the
	// plan keeping them (sweeps score thousands of runs).
	onLogits func(job int, logits []float32)
}

// nodeHook is what happens at one graph node.
type nodeHook struct {
	node    string
	patches []*boundPatch         // for every row, in order
	byJob   map[int][]*boundPatch // for one job's rows
	derived []*boundPatch         // hook_attn_out patches: node is ffn_inp, base rows needed
	capture bool                  // keep the node's rows under key node
	baseFor []*boundPatch         // derived patches on a later node that need this node's rows
	base    map[[2]int][]float32  // those rows by (job or sequence, position), until used
	row     []float32             // scratch
}

func (n *nodeHook) modifies() bool {
	return len(n.patches) > 0 || len(n.byJob) > 0 || len(n.derived) > 0
}

func newPlan(ctx context.Context, c *llama.Context, jobs []job, filter Filter, cfg runConfig) (*plan, error) {
	if len(jobs) == 0 {
		return nil, errors.New("no prompts")
	}
	for i, j := range jobs {
		if len(j.tokens) == 0 {
			return nil, fmt.Errorf("prompt %d is empty", i)
		}
		if n := c.SequenceSize(); len(j.tokens) > n {
			return nil, fmt.Errorf("prompt %d has %d tokens, a sequence of the context holds %d", i, len(j.tokens), n)
		}
	}
	p, err := newHookPlan(ctx, c, cfg.patches)
	if err != nil {
		return nil, err
	}
	p.jobs = jobs
	p.keepAll = cfg.allLogits
	p.allLogits = cfg.allLogits || cfg.outputAll
	for i, j := range jobs {
		for _, patch := range j.patches {
			if err := p.addPatch(patch, i); err != nil {
				return nil, err
			}
		}
	}
	points, err := filter.resolve(p.hooks)
	if err != nil {
		return nil, err
	}
	p.requested = points
	for _, pt := range points {
		if pt.Derived() {
			p.node(pt.Node).capture = true
			p.node(pt.Base).capture = true
		} else {
			p.node(pt.Node).capture = true
		}
	}
	last := p.lastLayerCut()
	for _, n := range p.order {
		if isReduced(n.node, last, p.hooks) {
			p.allLogits = true
		}
		if needsOneStream(n.node) {
			p.oneStream = true
		}
	}
	p.captured = map[string][]*mat.Dense{}
	p.rowsSeen = map[string][]int{}
	p.heads = map[string]int{}
	p.logits = make([][]float32, len(jobs))
	if p.keepAll {
		p.allLog = make([][][]float32, len(jobs))
		for i, j := range jobs {
			p.allLog[i] = make([][]float32, len(j.tokens))
		}
	}
	return p, nil
}

// newHookPlan resolves patches that apply to every row.
func newHookPlan(ctx context.Context, c *llama.Context, patches []Patch) (*plan, error) {
	h, err := LoadHooks(ctx, c)
	if err != nil {
		return nil, err
	}
	info, err := c.Model().Info()
	if err != nil {
		return nil, err
	}
	p := &plan{hooks: h, nHead: info.Heads, vocab: info.VocabSize, nodes: map[string]*nodeHook{}}
	for _, patch := range patches {
		if err := p.addPatch(patch, -1); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *plan) node(name string) *nodeHook {
	n, ok := p.nodes[name]
	if !ok {
		n = &nodeHook{node: name}
		p.nodes[name] = n
		p.order = append(p.order, n)
	}
	return n
}

func (p *plan) addPatch(patch Patch, job int) error {
	bp, err := bindPatch(p.hooks, patch, job)
	if err != nil {
		return err
	}
	n := p.node(bp.point.Node)
	switch {
	case bp.point.Derived():
		base := p.node(bp.point.Base)
		base.baseFor = append(base.baseFor, bp)
		n.derived = append(n.derived, bp)
	case job < 0:
		n.patches = append(n.patches, bp)
	default:
		if n.byJob == nil {
			n.byJob = map[int][]*boundPatch{}
		}
		n.byJob[job] = append(n.byJob[job], bp)
	}
	return nil
}

// lastLayerCut is the index in graph order from which llama.cpp keeps only
// the rows that asked for logits: ffn_inp of the last layer, where the
// residual stream is first cut to those rows.
func (p *plan) lastLayerCut() int {
	nodes := p.hooks.nodes
	cut := fmt.Sprintf("ffn_inp-%d", p.hooks.layers-1)
	for i, n := range nodes {
		if n == cut {
			return i
		}
	}
	// An architecture without ffn_inp: everything of the last layer and
	// after it, the input embeddings excepted.
	for i, n := range nodes {
		if llama.LayerOf(strings.SplitN(n, " ", 2)[0]) == p.hooks.layers-1 {
			return i
		}
	}
	return len(nodes)
}

func isReduced(node string, cut int, h *Hooks) bool {
	for i, n := range h.nodes {
		if n == node {
			return i >= cut
		}
	}
	return false
}

// needsOneStream reports whether the node's shape depends on how many KV
// streams a micro-batch uses: attention scores, patterns and per-head
// outputs are split by sequence when several sequences decode at once, and
// their KV cells are only the prompt's positions when one prompt fills a
// cleared cache.
func needsOneStream(node string) bool {
	return isAttentionCells(node) || strings.HasPrefix(node, "kqv-") || strings.HasSuffix(node, " (view)")
}

// register adds the plan's hooks to c and returns a function removing them.
func (p *plan) register(c *llama.Context) (func(), error) {
	var removes []func()
	undo := func() {
		for _, r := range removes {
			r()
		}
	}
	for _, n := range p.order {
		pattern := escapePattern(n.node)
		fn := p.hookFunc(n)
		var remove func()
		var err error
		if n.modifies() {
			remove, err = c.Modify(pattern, fn)
		} else {
			remove, err = c.Observe(pattern, fn)
		}
		if err != nil {
			undo()
			return nil, err
		}
		removes = append(removes, remove)
	}
	return undo, nil
}

// escapePattern quotes a node name for path.Match.
func escapePattern(name string) string {
	var b strings.Builder
	for _, r := range name {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// errNoTokens means llama.cpp handed over rows that cannot be matched to
// tokens.
var errNoTokens = errors.New("rows cannot be matched to tokens")

// hookFunc is the hook on one node: per token row, apply the patches in
// order, keep base rows for derived patches, and capture.
func (p *plan) hookFunc(n *nodeHook) llama.HookFunc {
	return func(a *llama.Activation) error {
		if a.Rows() == 0 || len(a.Data) == 0 {
			return nil
		}
		if a.Tokens == nil {
			return fmt.Errorf("%w: node %s of shape %v (llama.cpp may give several nodes this name, or split it by sequence)", errNoTokens, a.Name, a.Shape)
		}
		lay := layoutOf(a)
		heads := headsOf(a, lay, p.nHead)
		for i, tok := range a.Tokens {
			owner := tok.Tag
			if p.attached {
				owner = tok.Seq
			}
			keep := lay.inner
			if !p.attached && isAttentionCells(n.node) {
				keep = len(p.jobs[owner].tokens)
			}
			var row []float32
			aliased := lay.contiguous() && keep == lay.inner
			if aliased {
				row = a.Data[i*lay.inner : (i+1)*lay.inner]
			} else {
				n.row = lay.gather(n.row, a.Data, i, keep)
				row = n.row
			}
			changed := false
			apply := func(bps []*boundPatch) error {
				for _, bp := range bps {
					if !bp.appliesAt(tok.Pos) {
						continue
					}
					if err := bp.apply(tok.Pos, row, heads); err != nil {
						return err
					}
					changed = true
				}
				return nil
			}
			if err := apply(n.patches); err != nil {
				return err
			}
			if !p.attached {
				if err := apply(n.byJob[owner]); err != nil {
					return err
				}
			}
			for _, bp := range n.derived {
				if !bp.appliesTo(owner, tok.Pos, p.attached) {
					continue
				}
				if err := p.applyDerived(bp, owner, tok.Pos, row, heads); err != nil {
					return err
				}
				changed = true
			}
			for _, bp := range n.derived {
				delete(p.nodes[bp.point.Base].base, [2]int{owner, tok.Pos})
			}
			if changed && !aliased {
				lay.scatter(a.Data, row, i, keep)
			}
			for _, bp := range n.baseFor {
				if bp.appliesTo(owner, tok.Pos, p.attached) {
					if n.base == nil {
						n.base = map[[2]int][]float32{}
					}
					n.base[[2]int{owner, tok.Pos}] = append([]float32(nil), row...)
					break
				}
			}
			if n.capture && !p.attached {
				if err := p.store(n.node, owner, tok.Pos, row, heads); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

// applyDerived applies a hook_attn_out patch on the ffn_inp row: the
// attention output is row − base, and the row becomes base + patched.
func (p *plan) applyDerived(bp *boundPatch, owner, pos int, row []float32, heads int) error {
	base, ok := p.nodes[bp.point.Base].base[[2]int{owner, pos}]
	if !ok || len(base) != len(row) {
		return fmt.Errorf("patch %s: no value of %s at position %d", bp.hook, bp.point.Base, pos)
	}
	for j := range row {
		row[j] -= base[j]
	}
	if err := bp.apply(pos, row, heads); err != nil {
		return err
	}
	for j := range row {
		row[j] += base[j]
	}
	return nil
}

// store copies a captured row into its matrix.
func (p *plan) store(key string, job, pos int, row []float32, heads int) error {
	ms := p.captured[key]
	if ms == nil {
		ms = make([]*mat.Dense, len(p.jobs))
		p.captured[key] = ms
		p.rowsSeen[key] = make([]int, len(p.jobs))
		p.heads[key] = heads
	}
	m := ms[job]
	if m == nil {
		m = mat.NewDense(len(p.jobs[job].tokens), len(row), nil)
		ms[job] = m
	}
	if _, c := m.Dims(); c != len(row) {
		return fmt.Errorf("node %s: rows of %d values, then %d", key, c, len(row))
	}
	if pos < 0 || pos >= len(p.jobs[job].tokens) {
		return fmt.Errorf("node %s: position %d outside prompt %d", key, pos, job)
	}
	dst := m.RawRowView(pos)
	for j, v := range row {
		dst[j] = float64(v)
	}
	p.rowsSeen[key][job]++
	return nil
}

// run decodes every job, one group per round of at most c.Sequences()
// prompts (one when the plan needs one KV stream), each prompt in its own
// sequence of a cleared cache, and keeps their logits.
func (p *plan) run(ctx context.Context, c *llama.Context) error {
	remove, err := p.register(c)
	if err != nil {
		return err
	}
	defer remove()
	perRound := c.Sequences()
	if p.oneStream {
		perRound = 1
	}
	var b llama.Batch
	type entry struct{ job, pos int }
	var entries []entry
	var buf []float32 // onLogits' logits
	flush := func() error {
		if b.Len() == 0 {
			return nil
		}
		if err := c.Decode(ctx, &b); err != nil {
			return err
		}
		for i, e := range entries {
			_, _, _, want := b.Entry(i)
			if !want {
				continue
			}
			j := p.jobs[e.job]
			last := e.pos == len(j.tokens)-1
			if !last && !p.keepAll {
				continue
			}
			if p.onLogits != nil && last && !p.keepAll {
				if buf, err = c.LogitsTo(buf, i); err != nil {
					return err
				}
				p.onLogits(e.job, buf)
				continue
			}
			logits, err := c.Logits(i)
			if err != nil {
				return err
			}
			if last {
				p.logits[e.job] = logits
			}
			if p.keepAll {
				p.allLog[e.job][e.pos] = logits
			}
		}
		b.Reset()
		entries = entries[:0]
		return nil
	}
	for start := 0; start < len(p.jobs); start += perRound {
		if err := c.ClearKV(); err != nil {
			return err
		}
		for _, n := range p.nodes {
			clear(n.base)
		}
		for seq, ji := 0, start; ji < min(start+perRound, len(p.jobs)); seq, ji = seq+1, ji+1 {
			toks := p.jobs[ji].tokens
			for pos, t := range toks {
				b.AddTagged(t, pos, seq, p.allLogits || pos == len(toks)-1, ji)
				entries = append(entries, entry{ji, pos})
				if b.Len() == c.BatchSize() {
					if err := flush(); err != nil {
						return err
					}
				}
			}
		}
		if err := flush(); err != nil {
			return err
		}
	}
	if err := c.ClearKV(); err != nil {
		return err
	}
	for key, seen := range p.rowsSeen {
		for j, n := range seen {
			if want := len(p.jobs[j].tokens); n != want {
				return fmt.Errorf("node %s: %d rows for prompt %d of %d tokens", key, n, j, want)
			}
		}
	}
	return nil
}

// estimate returns the bytes the run would hold, learning each captured
// node's width from a one-token probe decode at the end of sequence 0.
func (p *plan) estimate(ctx context.Context, c *llama.Context) (int64, error) {
	type width struct{ perToken, heads int }
	widths := map[string]width{}
	var removes []func()
	defer func() {
		for _, r := range removes {
			r()
		}
	}()
	for _, n := range p.order {
		if !n.capture {
			continue
		}
		remove, err := c.Observe(escapePattern(n.node), func(a *llama.Activation) error {
			lay := layoutOf(a)
			widths[a.Name] = width{lay.inner * lay.outer, lay.outer}
			return nil
		})
		if err != nil {
			return 0, err
		}
		removes = append(removes, remove)
	}
	if len(removes) > 0 {
		pos, err := c.SequenceEnd(0)
		if err != nil {
			return 0, err
		}
		var b llama.Batch
		b.Add(p.jobs[0].tokens[0], pos, 0, true)
		err = c.Decode(ctx, &b)
		if rmErr := c.RemoveTokens(0, pos, -1); err == nil {
			err = rmErr
		}
		if err != nil {
			return 0, err
		}
	}
	var total int64
	for _, j := range p.jobs {
		t := int64(len(j.tokens))
		for _, n := range p.order {
			if !n.capture {
				continue
			}
			w := widths[n.node]
			if isAttentionCells(n.node) {
				total += 8 * int64(w.heads) * t * t
			} else {
				total += 8 * int64(w.perToken) * t
			}
		}
		for _, pt := range p.requested {
			if pt.Derived() {
				total += 8 * int64(widths[pt.Node].perToken) * t
			}
		}
		logits := int64(4 * p.vocab)
		if p.keepAll {
			logits *= t
		}
		total += logits
	}
	return total, nil
}

// cache packages the captures and logits of a finished run.
func (p *plan) cache(m *llama.Model) *Cache {
	c := &Cache{
		hooks:  p.hooks,
		points: map[string]HookPoint{},
		data:   map[string][]*mat.Dense{},
		heads:  map[string]int{},
		logits: p.logits,
		all:    p.allLog,
	}
	for _, j := range p.jobs {
		c.tokens = append(c.tokens, j.tokens)
		pieces := make([]string, len(j.tokens))
		for i, t := range j.tokens {
			pieces[i] = piece(m, t)
		}
		c.pieces = append(c.pieces, pieces)
	}
	for _, pt := range p.requested {
		c.names = append(c.names, pt.Name)
		c.points[pt.Name] = pt
		key := pt.key()
		if !pt.Derived() {
			c.data[key] = p.captured[key]
			c.heads[key] = p.heads[key]
			continue
		}
		mids, bases := p.captured[pt.Node], p.captured[pt.Base]
		out := make([]*mat.Dense, len(p.jobs))
		for j := range out {
			out[j] = mat.NewDense(len(p.jobs[j].tokens), mids[j].RawMatrix().Cols, nil)
			out[j].Sub(mids[j], bases[j])
		}
		c.data[key] = out
	}
	return c
}
