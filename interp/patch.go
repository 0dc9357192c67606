package interp

import (
	"fmt"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// Patch changes one hook point's activation while the model runs: it
// replaces, adds to, zeroes or edits the values at chosen positions (and
// heads), and every later node computes from the changed values. Make one
// with [Replace], [ReplaceFrom], [Add], [Zero] or [PatchFunc]; apply it with
// [RunWithHooks], [WithPatches] or [Attach]. Patches on one hook point apply
// in the order given, and a capture of a patched point sees the patched
// values. A Patch is a value, safe for concurrent use once made (a
// [PatchFunc]'s function must be too if the patch is used concurrently).
type Patch struct {
	hook      string
	op        string
	positions []int // nil: every position
	heads     []int // nil: the whole row

	src   mat.Matrix                   // Replace
	cache *Cache                       // ReplaceFrom
	seq   int                          // ReplaceFrom
	vec   []float32                    // Add
	fn    func(pos int, row []float32) // PatchFunc; Zero
}

// PatchOption narrows where a [Patch] applies.
type PatchOption func(*Patch)

// AtPositions applies the patch at these token positions only. Default:
// every position.
func AtPositions(pos ...int) PatchOption {
	return func(p *Patch) { p.positions = slices.Clone(pos) }
}

// OnHeads applies the patch to these attention heads' slices of the row
// only, on hook points with heads (hook_z, hook_q, hook_k, hook_pattern;
// [Cache.Heads] says how many). Default: the whole row.
func OnHeads(heads ...int) PatchOption {
	return func(p *Patch) { p.heads = slices.Clone(heads) }
}

func newPatch(hook, op string, opts []PatchOption) Patch {
	p := Patch{hook: hook, op: op}
	for _, o := range opts {
		o(&p)
	}
	return p
}

// Replace sets the activation at each position p to row p of src (tokens ×
// width, such as another run's [Cache.Get]). Positions beyond src's rows are
// an error of the run.
func Replace(hook string, src mat.Matrix, opts ...PatchOption) Patch {
	p := newPatch(hook, "replace", opts)
	p.src = src
	return p
}

// ReplaceFrom is Replace with the same hook point's activation of prompt seq
// in cache: the patch of activation-patching experiments.
func ReplaceFrom(hook string, cache *Cache, seq int, opts ...PatchOption) Patch {
	p := newPatch(hook, "replace", opts)
	p.cache, p.seq = cache, seq
	return p
}

// Add adds v to the activation at every patched position (the steering of
// [Steer]). v has the row's width.
func Add(hook string, v mat.Vector, opts ...PatchOption) Patch {
	p := newPatch(hook, "add", opts)
	p.vec = make([]float32, v.Len())
	for i := range p.vec {
		p.vec[i] = float32(v.AtVec(i))
	}
	return p
}

// Zero sets the activation to zero (zero-ablation).
func Zero(hook string, opts ...PatchOption) Patch {
	p := newPatch(hook, "zero", opts)
	p.fn = func(_ int, row []float32) { clear(row) }
	return p
}

// PatchFunc lets fn edit the activation in place: row is the token's
// values at position pos (laid out as [TokenRow] gives them; attention
// rows cropped to the prompt's positions in runs of this package), and what
// fn leaves in it flows on. With OnHeads, only the chosen heads' changes
// are kept.
func PatchFunc(hook string, fn func(pos int, row []float32), opts ...PatchOption) Patch {
	p := newPatch(hook, "func", opts)
	p.fn = fn
	return p
}

// Hook is the name of the hook point the patch changes.
func (p Patch) Hook() string { return p.hook }

func (p Patch) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", p.op, p.hook)
	if p.positions != nil {
		fmt.Fprintf(&b, " at %v", p.positions)
	}
	if p.heads != nil {
		fmt.Fprintf(&b, " heads %v", p.heads)
	}
	return b.String()
}

// boundPatch is a patch resolved against a model's hook points, ready to
// run.
type boundPatch struct {
	Patch
	point HookPoint
	job   int        // the job it is for; -1 for every row
	src   mat.Matrix // the replacement source, ReplaceFrom's included
	at    map[int]bool
	tmp   []float32 // scratch for head-restricted patches
}

func bindPatch(h *Hooks, p Patch, job int) (*boundPatch, error) {
	point, err := h.Resolve(p.hook)
	if err != nil {
		return nil, err
	}
	bp := &boundPatch{Patch: p, point: point, job: job, src: p.src}
	if p.cache != nil {
		src, err := p.cache.Lookup(p.hook, p.seq)
		if err != nil {
			return nil, err
		}
		bp.src = src
	}
	if p.op == "replace" && bp.src == nil {
		return nil, fmt.Errorf("interp: patch %s: no source", p.hook)
	}
	if p.positions != nil {
		bp.at = map[int]bool{}
		for _, pos := range p.positions {
			bp.at[pos] = true
		}
	}
	return bp, nil
}

func (bp *boundPatch) appliesAt(pos int) bool { return bp.at == nil || bp.at[pos] }

// appliesTo reports whether the patch applies to the row of job (or, when
// attached, sequence) owner at pos.
func (bp *boundPatch) appliesTo(owner, pos int, attached bool) bool {
	return (bp.job < 0 || (!attached && bp.job == owner)) && bp.appliesAt(pos)
}

// apply changes row, the values at position pos; heads is the number of
// heads the row splits into (0: none).
func (bp *boundPatch) apply(pos int, row []float32, heads int) error {
	if bp.heads == nil {
		return bp.applyRow(pos, row)
	}
	if heads == 0 {
		return fmt.Errorf("patch %s: the node has no heads", bp.hook)
	}
	bp.tmp = append(bp.tmp[:0], row...)
	if err := bp.applyRow(pos, bp.tmp); err != nil {
		return err
	}
	w := len(row) / heads
	for _, h := range bp.heads {
		if h < 0 || h >= heads {
			return fmt.Errorf("patch %s: head %d outside [0, %d)", bp.hook, h, heads)
		}
		copy(row[h*w:(h+1)*w], bp.tmp[h*w:(h+1)*w])
	}
	return nil
}

func (bp *boundPatch) applyRow(pos int, row []float32) error {
	switch {
	case bp.src != nil:
		r, c := bp.src.Dims()
		if pos >= r {
			return fmt.Errorf("patch %s: position %d beyond the source's %d rows", bp.hook, pos, r)
		}
		if c != len(row) {
			return fmt.Errorf("patch %s: source rows have %d values, the activation %d", bp.hook, c, len(row))
		}
		if d, ok := bp.src.(*mat.Dense); ok {
			for j, v := range d.RawRowView(pos) {
				row[j] = float32(v)
			}
		} else {
			for j := range row {
				row[j] = float32(bp.src.At(pos, j))
			}
		}
	case bp.vec != nil:
		if len(bp.vec) != len(row) {
			return fmt.Errorf("patch %s: vector of %d values, the activation has %d", bp.hook, len(bp.vec), len(row))
		}
		for j, v := range bp.vec {
			row[j] += v
		}
	default:
		bp.fn(pos, row)
	}
	return nil
}
