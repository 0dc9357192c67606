package interp

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/go-rlm/rlm/llama"
)

// ErrUnknownHook means a hook name (or pattern) names nothing in the model's
// graph. Errors that wrap it are a [*HookNameError], which lists the names
// the graph does have.
var ErrUnknownHook = errors.New("interp: unknown hook point")

// HookNameError reports a hook name that the model's graph does not have.
// It is a plain value, safe to share.
type HookNameError struct {
	Name  string   // the name or pattern asked for
	Known []string // every name the graph has: TransformerLens names first, then raw node names
	// Reason is set when the graph has a node of that name that cannot be
	// hooked, and says why.
	Reason string
}

func (e *HookNameError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("interp: hook point %q: %s; this model has %s", e.Name, e.Reason, compactNames(e.Known))
	}
	return fmt.Sprintf("interp: unknown hook point %q; this model has %s", e.Name, compactNames(e.Known))
}

// Unwrap makes errors.Is(err, ErrUnknownHook) true.
func (e *HookNameError) Unwrap() error { return ErrUnknownHook }

// HookPoint is a place in the model where activations can be read or
// changed, under its TransformerLens-style name and the llama.cpp graph
// node it reads. It is a plain value, safe to copy and share.
type HookPoint struct {
	// Name is the TransformerLens-style name ("blocks.3.hook_resid_post"),
	// or the node's own name for nodes without one ("kq-3").
	Name string
	// Node is the llama.cpp graph node that holds the activation
	// ("l_out-3"). For a derived point it is the node the activation is
	// read from and patched on (ffn_inp-L for hook_attn_out).
	Node string
	// Base is set for derived points only: the node whose value is
	// subtracted from Node's to give the activation. hook_attn_out is
	// ffn_inp-L − l_out-(L-1) (− inp_embd for L = 0): llama.cpp gives the
	// attention output after W_O no name of its own.
	Base string
	// Layer is the transformer block the point belongs to in
	// TransformerLens's numbering (blocks.L.hook_resid_pre is l_out-(L-1)
	// but has Layer L); -1 outside blocks.
	Layer int
}

// Derived reports whether the point is computed from two nodes rather than
// read from one.
func (p HookPoint) Derived() bool { return p.Base != "" }

// key is what caches and hook plans index a point by: the node for points
// that are nodes (so aliases share storage), the name for derived ones.
func (p HookPoint) key() string {
	if p.Derived() {
		return p.Name
	}
	return p.Node
}

// tlPoint maps one TransformerLens hook kind to the llama.cpp nodes that
// hold it, most likely first; %d is the layer. The first candidate that
// exists in the graph is used.
type tlPoint struct {
	kind  string   // as ActName takes it
	nodes []string // candidate node names, %d = layer
}

// blockPoints are the per-layer hook points in the order a block computes
// them. Facts of llama.cpp's graph at the pinned version (Qwen2/Llama-style
// blocks):
//
//   - attn_norm-L and ffn_norm-L are the RMS-normalized residual times the
//     norm's weight: TransformerLens's ln1/ln2.hook_normalized with the
//     weight applied (TransformerLens's fold_ln moves that weight into the
//     next matrices instead). The value before the weight is named "norm-L"
//     for both norms, so it cannot be hooked apart.
//   - "Qcur-L (reshaped)" is the query after its bias and before RoPE,
//     [head_dim, heads, tokens]; "Qcur-L (view)" is the query after RoPE.
//     "Qcur-L", "Kcur-L" and "Vcur-L" themselves name two or three nodes
//     each (before the bias, after it, after RoPE), so hooks cannot tell
//     their rows apart and they are not hook points; the value vectors have
//     no hookable node of their own.
//   - kqv_out-L is the attention's per-head output with the heads merged
//     (TransformerLens's hook_z flattened to heads × head_dim), before W_O.
//   - kq_soft_max-L is the attention pattern (only without flash
//     attention); its rows span the KV cache's cells, which Cache crops to
//     the positions in use.
var blockPoints = []tlPoint{
	{"resid_pre", nil}, // resolved specially: l_out-(L-1), or inp_embd for L = 0
	{"ln1", []string{"attn_norm-%d"}},
	{"q", []string{"Qcur-%d (reshaped)"}},
	{"k", []string{"Kcur-%d (reshaped)"}},
	{"rot_q", []string{"Qcur-%d (view)"}},
	{"pattern", []string{"kq_soft_max-%d"}},
	{"z", []string{"kqv_out-%d"}},
	{"attn_out", nil}, // derived: ffn_inp-L − resid_pre
	{"resid_mid", []string{"ffn_inp-%d"}},
	{"ln2", []string{"ffn_norm-%d"}},
	{"pre", []string{"ffn_gate-%d"}},
	{"pre_linear", []string{"ffn_up-%d"}},
	{"post", []string{"ffn_swiglu-%d", "ffn_geglu-%d", "ffn_reglu-%d", "ffn_gelu-%d", "ffn_silu-%d", "ffn_relu-%d"}},
	{"mlp_out", []string{"ffn_out-%d"}},
	{"resid_post", []string{"l_out-%d"}},
}

// Node names outside the blocks.
const (
	nodeEmbed     = "inp_embd"
	nodeFinalNorm = "result_norm"
	nodeLogits    = "result_output"
)

// ActName returns the TransformerLens name of an activation, as
// TransformerLens's get_act_name does: ActName("resid_post", 5) is
// "blocks.5.hook_resid_post". Kinds of the attention ("q", "k", "v", "z",
// "rot_q", "rot_k", "pattern", "attn_scores", "result") go under
// "blocks.L.attn.", kinds of the MLP ("pre", "pre_linear", "post") under
// "blocks.L.mlp.", and "ln1"/"ln2" give "blocks.L.ln1.hook_normalized".
// With a negative layer, "embed" gives "hook_embed" and "normalized" (or
// "ln_final") gives "ln_final.hook_normalized". A name that already holds a
// dot is returned unchanged. ActName only spells names: [Hooks.Resolve]
// says whether a model has one.
func ActName(kind string, layer int) string {
	if strings.Contains(kind, ".") {
		return kind
	}
	if layer < 0 {
		switch kind {
		case "normalized", "ln_final":
			return "ln_final.hook_normalized"
		}
		return "hook_" + kind
	}
	block := "blocks." + strconv.Itoa(layer) + "."
	switch kind {
	case "q", "k", "v", "z", "rot_q", "rot_k", "pattern", "attn_scores", "result":
		return block + "attn.hook_" + kind
	case "pre", "pre_linear", "post":
		return block + "mlp.hook_" + kind
	case "ln1", "ln2":
		return block + kind + ".hook_normalized"
	}
	return block + "hook_" + kind
}

// Hooks is the table of one model's hook points: every TransformerLens
// name the model's graph supports and every raw node name, resolved to
// nodes. Make one with [LoadHooks] (from a context) or [NewHooks] (from a
// list of node names). A Hooks is immutable and safe for concurrent use.
type Hooks struct {
	nodes      []string             // raw hookable node names, in graph order
	points     []HookPoint          // TransformerLens points, in layer then block order
	byName     map[string]HookPoint // TransformerLens names and raw node names
	unhookable map[string]bool      // nodes whose rows hooks cannot match to tokens
	layers     int
}

// LoadHooks lists the hook points of the model c runs, from the nodes its
// graph really has ([llama.Context.NodeNames], which decodes one probe token
// the first time and caches the names on the context).
func LoadHooks(ctx context.Context, c *llama.Context) (*Hooks, error) {
	names, err := c.NodeNames(ctx)
	if err != nil {
		return nil, fmt.Errorf("interp: load hooks: %w", err)
	}
	return NewHooks(names), nil
}

// HookPoints lists the hook points of the model c runs: TransformerLens
// names first (in layer order), then every raw node name that no
// TransformerLens name covers, each with the node it reads.
func HookPoints(ctx context.Context, c *llama.Context) ([]HookPoint, error) {
	h, err := LoadHooks(ctx, c)
	if err != nil {
		return nil, err
	}
	return h.Points(), nil
}

// NewHooks builds the table from the hookable node names of a graph, as
// [llama.Context.NodeNames] lists them.
func NewHooks(nodeNames []string) *Hooks {
	h := &Hooks{byName: map[string]HookPoint{}, unhookable: map[string]bool{}}
	have := map[string]bool{}
	for _, n := range nodeNames {
		if unhookable(n) {
			h.unhookable[n] = true
			continue
		}
		h.nodes = append(h.nodes, n)
		have[n] = true
		h.layers = max(h.layers, llama.LayerOf(n)+1)
	}
	add := func(p HookPoint) {
		h.points = append(h.points, p)
		h.byName[p.Name] = p
	}
	if have[nodeEmbed] {
		add(HookPoint{Name: ActName("embed", -1), Node: nodeEmbed, Layer: -1})
	}
	for l := 0; l < h.layers; l++ {
		resid := nodeEmbed
		if l > 0 {
			resid = "l_out-" + strconv.Itoa(l-1)
		}
		for _, tp := range blockPoints {
			name := ActName(tp.kind, l)
			switch tp.kind {
			case "resid_pre":
				if have[resid] {
					add(HookPoint{Name: name, Node: resid, Layer: l})
				}
			case "attn_out":
				mid := fmt.Sprintf("ffn_inp-%d", l)
				if have[resid] && have[mid] {
					add(HookPoint{Name: name, Node: mid, Base: resid, Layer: l})
				}
			default:
				for _, pat := range tp.nodes {
					if node := fmt.Sprintf(pat, l); have[node] {
						add(HookPoint{Name: name, Node: node, Layer: l})
						break
					}
				}
			}
		}
	}
	if have[nodeFinalNorm] {
		add(HookPoint{Name: ActName("normalized", -1), Node: nodeFinalNorm, Layer: -1})
	}
	// Raw names resolve to the first TransformerLens point on that node
	// (l_out-2 is blocks.2.hook_resid_post rather than
	// blocks.3.hook_resid_pre), else to the node itself.
	for _, n := range h.nodes {
		if _, ok := h.byName[n]; ok {
			continue
		}
		p := HookPoint{Name: n, Node: n, Layer: llama.LayerOf(n)}
		for _, q := range h.points {
			if q.Node == n && !q.Derived() {
				p = q
				break
			}
		}
		h.byName[n] = p
	}
	return h
}

// Layers is the number of transformer blocks.
func (h *Hooks) Layers() int { return h.layers }

// Nodes lists the raw hookable node names in graph order: every node
// package llama can hook, but those whose rows hooks cannot match to
// tokens (see [HookNameError.Reason]).
func (h *Hooks) Nodes() []string { return slices.Clone(h.nodes) }

// Points lists the TransformerLens hook points in layer order, then the
// raw nodes no TransformerLens name covers (as points named by the node).
func (h *Hooks) Points() []HookPoint {
	pts := slices.Clone(h.points)
	covered := map[string]bool{}
	for _, p := range h.points {
		covered[p.Node] = true
	}
	for _, n := range h.nodes {
		if !covered[n] {
			pts = append(pts, h.byName[n])
		}
	}
	return pts
}

// Names lists every name Resolve accepts: the TransformerLens names, then
// the raw node names.
func (h *Hooks) Names() []string {
	names := make([]string, 0, len(h.points)+len(h.nodes))
	for _, p := range h.points {
		names = append(names, p.Name)
	}
	return append(names, h.nodes...)
}

// Resolve returns the hook point of a TransformerLens name
// ("blocks.3.hook_resid_post") or a raw node name ("l_out-3"). A name the
// graph lacks gives a [*HookNameError] (errors.Is(err, ErrUnknownHook)).
func (h *Hooks) Resolve(name string) (HookPoint, error) {
	if p, ok := h.byName[name]; ok {
		return p, nil
	}
	return HookPoint{}, h.nameError(name)
}

func (h *Hooks) nameError(name string) *HookNameError {
	err := &HookNameError{Name: name, Known: h.Names()}
	if h.unhookable[name] {
		err.Reason = "llama.cpp gives several graph nodes this name, or hooks misread its rows, so its rows cannot be matched to tokens"
	}
	return err
}

// unhookable reports whether hooks cannot tell which token a row of the
// node is. At the pinned llama.cpp, "norm-L", "Qcur-L", "Kcur-L" and
// "Vcur-L" name two or three nodes each, and package llama reads the
// token dimension of every node whose name starts with Qcur, Kcur or Vcur
// as [head_dim, heads, tokens], which only "Qcur-L (reshaped)",
// "Kcur-L (reshaped)" and "Qcur-L (view)" are; the key and value views
// written into the KV cache are [width, tokens].
func unhookable(node string) bool {
	base, suffix, _ := strings.Cut(node, " ")
	i := strings.LastIndexByte(base, '-')
	if i < 0 || llama.LayerOf(base) < 0 {
		return false
	}
	switch base[:i] {
	case "norm":
		return true
	case "Qcur":
		return suffix != "(reshaped)" && suffix != "(view)"
	case "Kcur":
		return suffix != "(reshaped)"
	case "Vcur":
		return true
	}
	return false
}

// Match resolves names and path.Match patterns over the names
// ("blocks.*.hook_resid_post"; a pattern matches TransformerLens names and
// raw names alike) into hook points, each once, in the order given. A name
// or pattern that matches nothing is a [*HookNameError].
func (h *Hooks) Match(patterns ...string) ([]HookPoint, error) {
	var out []HookPoint
	seen := map[string]bool{}
	keep := func(p HookPoint) {
		if !seen[p.Name] {
			seen[p.Name] = true
			out = append(out, p)
		}
	}
	for _, pat := range patterns {
		if p, ok := h.byName[pat]; ok {
			keep(p)
			continue
		}
		if _, err := path.Match(pat, ""); err != nil || !strings.ContainsAny(pat, `*?[\`) {
			return nil, h.nameError(pat)
		}
		n := len(seen)
		for _, name := range h.Names() {
			if ok, _ := path.Match(pat, name); ok {
				keep(h.byName[name])
			}
		}
		if len(seen) == n {
			return nil, h.nameError(pat)
		}
	}
	return out, nil
}

// ForNode lists the TransformerLens points that read node directly (an
// alias such as l_out-2 has two: blocks.2.hook_resid_post and
// blocks.3.hook_resid_pre), or the node as its own point when it has none.
// It is how code that hooks nodes itself names what it sees.
func (h *Hooks) ForNode(node string) []HookPoint {
	var out []HookPoint
	for _, p := range h.points {
		if p.Node == node && !p.Derived() {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		if p, ok := h.byName[node]; ok {
			out = append(out, p)
		}
	}
	return out
}

// compactNames writes names with layer numbers folded: the names
// "blocks.0.hook_x" … "blocks.3.hook_x" become "blocks.{0..3}.hook_x", and
// "l_out-0" … "l_out-3" become "l_out-{0..3}".
func compactNames(names []string) string {
	type group struct {
		template string
		layers   []int
	}
	var groups []*group
	byTemplate := map[string]*group{}
	for _, n := range names {
		tmpl, layer := layerTemplate(n)
		g, ok := byTemplate[tmpl]
		if !ok {
			g = &group{template: tmpl}
			byTemplate[tmpl] = g
			groups = append(groups, g)
		}
		if layer >= 0 {
			g.layers = append(g.layers, layer)
		}
	}
	parts := make([]string, 0, len(groups))
	for _, g := range groups {
		if len(g.layers) == 0 {
			parts = append(parts, g.template)
			continue
		}
		span := layerSpan(g.layers)
		parts = append(parts, strings.Replace(g.template, "#", span, 1))
	}
	return strings.Join(parts, ", ")
}

// layerSpan writes ascending layer numbers as "3", "{0..3}" or "{0,2,3}".
func layerSpan(layers []int) string {
	lo, hi := layers[0], layers[len(layers)-1]
	switch {
	case len(layers) == 1:
		return strconv.Itoa(lo)
	case hi-lo+1 == len(layers):
		return "{" + strconv.Itoa(lo) + ".." + strconv.Itoa(hi) + "}"
	}
	s := make([]string, len(layers))
	for i, l := range layers {
		s[i] = strconv.Itoa(l)
	}
	return "{" + strings.Join(s, ",") + "}"
}

// layerTemplate replaces the layer number of a name with "#":
// "blocks.3.hook_x" gives ("blocks.#.hook_x", 3), "Qcur-3 (view)" gives
// ("Qcur-# (view)", 3); names without one give (name, -1).
func layerTemplate(name string) (string, int) {
	if rest, ok := strings.CutPrefix(name, "blocks."); ok {
		if i := strings.IndexByte(rest, '.'); i > 0 {
			if l, err := strconv.Atoi(rest[:i]); err == nil {
				return "blocks.#" + rest[i:], l
			}
		}
	}
	base, suffix, _ := strings.Cut(name, " ")
	if l := llama.LayerOf(base); l >= 0 {
		i := strings.LastIndexByte(base, '-')
		t := base[:i+1] + "#"
		if suffix != "" {
			t += " " + suffix
		}
		return t, l
	}
	return name, -1
}
