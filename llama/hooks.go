package llama

// #include "bridge.h"
import "C"

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
	"weak"
)

// Activation is the value of one graph node for one micro-batch, as a hook
// sees it: a tensor in ggml's layout, Shape[0] values per row, rows
// consecutive. Data is only valid during the hook call; copy what you keep.
// A Modify hook may change Data in place and every later node sees the
// change.
type Activation struct {
	Name  string // the node's name in llama.cpp's graph, e.g. "l_out-3"
	Layer int    // the layer the node belongs to, -1 for nodes outside layers
	// Shape is ggml's ne: Shape[0] is the row length (n_embd for the
	// residual stream), Shape[1] usually the tokens of the micro-batch.
	Shape [4]int
	Data  []float32
	// Tokens are the batch entries along the token dimension (TokenDim), in
	// order; nil when the node's rows do not correspond to tokens. In the
	// last layer llama.cpp keeps only positions that asked for logits, and
	// Tokens then lists just those.
	Tokens   []TokenRef
	TokenDim int
	// MicroBatch numbers the graph evaluations of one Decode from 0.
	MicroBatch int
}

// TokenRef identifies a token of the batch being decoded.
type TokenRef struct {
	Index  int // index in the Batch
	Token  Token
	Pos    int
	Seq    int
	Logits bool // the batch asked for logits here
	Tag    int  // the tag given with Batch.AddTagged (GenerateBatch: the prompt's index)
}

// Row returns row i (Shape[0] values) of the activation, aliasing Data.
func (a *Activation) Row(i int) []float32 { return a.Data[i*a.Shape[0] : (i+1)*a.Shape[0]] }

// Rows is the number of rows: Shape[1]*Shape[2]*Shape[3].
func (a *Activation) Rows() int { return a.Shape[1] * a.Shape[2] * a.Shape[3] }

// HookFunc receives an activation. Returning an error aborts the Decode,
// which returns that error.
type HookFunc func(a *Activation) error

// Observe registers fn on every graph node whose name matches pattern
// (path.Match syntax: "l_out-3", "l_out-*", "*-12"). Observing does not
// change any value. Only matching nodes are observed: each one splits the
// graph's computation, so hook what you need, not everything. Only nodes that
// are contiguous F32 tensors can be hooked ([Context.NodeNames] lists them);
// views into the KV cache are not. It returns a function that removes the
// hook. Hooks run in registration order.
func (c *Context) Observe(pattern string, fn HookFunc) (remove func(), err error) {
	return c.addHook(pattern, fn, false)
}

// Modify registers fn like Observe, but the values fn leaves in
// Activation.Data are written back into the graph before the next node runs.
func (c *Context) Modify(pattern string, fn HookFunc) (remove func(), err error) {
	return c.addHook(pattern, fn, true)
}

func (c *Context) addHook(pattern string, fn HookFunc, modify bool) (func(), error) {
	op := "observe"
	if modify {
		op = "modify"
	}
	if err := c.lock(op); err != nil {
		return nil, err
	}
	defer c.mu.Unlock()
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, &Error{Op: op, Err: fmt.Errorf("pattern %q: %w", pattern, err)}
	}
	if fn == nil {
		return nil, &Error{Op: op, Err: errors.New("nil hook")}
	}
	h := c.hooks.add(pattern, fn, modify)
	c.hooks.syncFlag()
	return func() {
		c.hooks.remove(h)
		c.hooks.syncFlag()
	}, nil
}

// ClearHooks removes every hook from the context.
func (c *Context) ClearHooks() error {
	if err := c.lock("clear hooks"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	c.hooks.hooks = nil
	c.hooks.wants = map[string]bool{}
	c.hooks.syncFlag()
	return nil
}

// NodeNames lists the names of the graph nodes hooks can receive, in the
// order they are computed, by decoding one probe token at the end of
// sequence 0 and removing it again.
func (c *Context) NodeNames(ctx context.Context) ([]string, error) {
	if err := c.lock("node names"); err != nil {
		return nil, err
	}
	defer c.mu.Unlock()
	if c.nodeNames != nil {
		return slices.Clone(c.nodeNames), nil
	}
	var names []string
	seen := map[string]bool{}
	c.hooks.record = func(name string) {
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	c.hooks.syncFlag()
	defer func() {
		c.hooks.record = nil
		c.hooks.syncFlag()
	}()
	pos := c.sequenceEnd(0)
	var b Batch
	b.Add(0, pos, 0, true)
	err := c.decode(ctx, &b)
	c.removeTokens(0, pos, -1)
	if err != nil {
		return nil, err
	}
	c.nodeNames = names
	return slices.Clone(names), nil
}

// LayerOf parses the layer from a node name of the form NAME-LAYER
// ("l_out-3" gives 3); other names give -1.
func LayerOf(name string) int {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return -1
	}
	n, err := strconv.Atoi(name[i+1:])
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// The hooks of every open context, by registry key. C knows a context's
// hooks only by this key (rlm_context_state.hooks_id), and the registry
// holds them weakly: nothing reachable from a global keeps a Context alive,
// so the cleanup of a Context dropped without Close runs and reports it.
// During a decode the Context, and so its hooks, is reachable from the
// decoding goroutine. Close deletes the entry.
var (
	hookRegistry sync.Map // uintptr → weak.Pointer[hookSet]
	nextHooksID  atomic.Uintptr
)

func registerHooks(s *hookSet) uintptr {
	id := nextHooksID.Add(1)
	hookRegistry.Store(id, weak.Make(s))
	return id
}

func unregisterHooks(id uintptr) { hookRegistry.Delete(id) }

// lookupHooks returns the hooks registered under id, nil if there are none.
func lookupHooks(id C.uintptr_t) *hookSet {
	v, ok := hookRegistry.Load(uintptr(id))
	if !ok {
		return nil
	}
	return v.(weak.Pointer[hookSet]).Value()
}

// hookSet is a context's hooks and the state of the Decode in progress. The
// eval callback runs on the goroutine that called Decode, which holds the
// context's lock, so the fields need no lock of their own; running is read
// by other goroutines.
type hookSet struct {
	state   *C.rlm_context_state // the abort flag; nil once the context is closed
	hooks   []*hook
	wants   map[string]bool   // node name -> some hook matches
	record  func(name string) // NodeNames' recorder, when set
	running atomic.Bool       // a hook or stream function is running (see ErrInCallback)

	// per Decode
	batch    *Batch
	plan     [][]int // batch indices of each micro-batch, as planned
	streams  int     // KV streams of the context
	micro    int     // the micro-batch being computed, -1 before the first
	seen     checks  // what the current micro-batch has been checked against
	firstErr error
	buf      []float32
	ints     []int32
	longs    []int64
	tokens   []TokenRef
}

type hook struct {
	pattern string
	modify  bool
	fn      HookFunc
}

func newHookSet(state *C.rlm_context_state) *hookSet {
	return &hookSet{state: state, wants: map[string]bool{}}
}

func (s *hookSet) add(pattern string, fn HookFunc, modify bool) *hook {
	h := &hook{pattern: pattern, modify: modify, fn: fn}
	s.hooks = append(s.hooks, h)
	s.wants = map[string]bool{}
	return h
}

func (s *hookSet) remove(h *hook) {
	// A new slice: a decode in progress may be ranging over the old one.
	s.hooks = slices.DeleteFunc(slices.Clone(s.hooks), func(x *hook) bool { return x == h })
	s.wants = map[string]bool{}
}

// callback runs fn, a function of the caller's, marked as running inside a
// call of the context (see ErrInCallback).
func (s *hookSet) callback(fn func() error) error {
	s.running.Store(true)
	defer s.running.Store(false)
	return fn()
}

func (s *hookSet) active() bool { return len(s.hooks) > 0 || s.record != nil }

// syncFlag tells the C eval callback whether to call into Go at all.
func (s *hookSet) syncFlag() {
	if s.state == nil {
		return
	}
	on := int32(0)
	if s.active() {
		on = 1
	}
	atomic.StoreInt32((*int32)(unsafe.Pointer(&s.state.hooks_on)), on)
}

func (s *hookSet) begin(b *Batch, plan [][]int, streams int) {
	s.batch, s.plan, s.streams, s.firstErr = b, plan, streams, nil
	s.micro, s.seen = -1, checks{}
}

func (s *hookSet) end() { s.batch, s.plan = nil, nil }

func (s *hookSet) err() error { return s.firstErr }

func (s *hookSet) matches(name string) bool {
	want, ok := s.wants[name]
	if !ok {
		for _, h := range s.hooks {
			if m, _ := path.Match(h.pattern, name); m {
				want = true
				break
			}
		}
		s.wants[name] = want
	}
	return want
}

// fail records the first error and asks llama.cpp to abort the decode.
func (s *hookSet) fail(err error) {
	if s.firstErr == nil {
		s.firstErr = err
	}
	if s.state != nil {
		atomic.StoreInt32((*int32)(unsafe.Pointer(&s.state.abort_flag)), 1)
	}
}

//export goHookWants
func goHookWants(id C.uintptr_t, t *C.struct_ggml_tensor) (want C.bool) {
	s := lookupHooks(id)
	if s == nil {
		return false
	}
	defer func() {
		// A panic must not unwind through llama.cpp's frames: it fails
		// the decode instead.
		if r := recover(); r != nil {
			s.fail(fmt.Errorf("hook dispatch panicked: %v", r))
			want = false
		}
	}()
	if s.firstErr != nil {
		return false
	}
	// Check what llama.cpp computes against the plan before any hook sees
	// a row of it.
	if err := s.check(t); err != nil {
		s.fail(err)
		return false
	}
	// Only contiguous F32 nodes can be handed to Go as []float32; the
	// others are views into the KV cache and the like.
	if t._type != C.GGML_TYPE_F32 || !bool(C.ggml_is_contiguous(t)) {
		return false
	}
	n := C.GoString(&t.name[0])
	if s.record != nil {
		s.running.Store(true)
		defer s.running.Store(false)
		s.record(n)
		return false
	}
	return C.bool(s.matches(n))
}

//export goHookRun
func goHookRun(id C.uintptr_t, t *C.struct_ggml_tensor) (keepGoing C.bool) {
	// Always let the scheduler go on: returning false would skip the rest
	// of the graph and report success. Errors abort through the abort flag.
	keepGoing = true
	s := lookupHooks(id)
	if s == nil {
		return keepGoing
	}
	defer func() {
		if r := recover(); r != nil {
			s.fail(fmt.Errorf("hook panicked: %v", r))
		}
	}()
	s.run(t)
	return keepGoing
}

func (s *hookSet) run(t *C.struct_ggml_tensor) {
	if s.firstErr != nil {
		return
	}
	name := C.GoString(&t.name[0])
	a := Activation{Name: name, Layer: LayerOf(name), TokenDim: 1}
	for i := range a.Shape {
		a.Shape[i] = int(t.ne[i])
	}
	n := a.Shape[0] * a.Shape[1] * a.Shape[2] * a.Shape[3]
	if cap(s.buf) < n {
		s.buf = make([]float32, n)
	}
	a.Data = s.buf[:n]
	if n > 0 {
		C.ggml_backend_tensor_get(t, unsafe.Pointer(&a.Data[0]), 0, C.size_t(4*n))
	}
	a.MicroBatch = max(s.micro, 0)
	a.Tokens = s.tokensOf(&a)

	s.running.Store(true)
	defer s.running.Store(false)
	modified := false
	for _, h := range s.hooks {
		if m, _ := path.Match(h.pattern, name); !m {
			continue
		}
		if err := h.fn(&a); err != nil {
			s.fail(fmt.Errorf("hook on %s: %w", name, err))
			return
		}
		modified = modified || h.modify
	}
	if modified && n > 0 {
		C.ggml_backend_tensor_set(t, unsafe.Pointer(&a.Data[0]), 0, C.size_t(4*n))
	}
}

// tokensOf finds the activation's token dimension and matches it to the
// micro-batch: either every token of it, or (from the last layer's output
// selection on) only the tokens with logits. Rows are tokens in dimension 1
// for most nodes, and in dimension 2 for the 3-D per-head projections
// [head_dim, heads, tokens]; the first of those dimensions whose size fits
// is taken. The micro-batch's tokens, positions and outputs were checked
// against what llama.cpp computes (see check).
func (s *hookSet) tokensOf(a *Activation) []TokenRef {
	if s.batch == nil || s.micro < 0 || s.micro >= len(s.plan) {
		return nil
	}
	idxs := s.plan[s.micro]
	nOut := 0
	for _, i := range idxs {
		if s.batch.logits[i] {
			nOut++
		}
	}
	dims := []int{1, 2}
	switch strings.SplitN(a.Name, "-", 2)[0] {
	case "Qcur", "Kcur", "Vcur":
		if a.Shape[2] > 1 { // the 3-D per-head form, not the 2-D projection
			dims = []int{2, 1}
		}
	}
	var keep func(i int) bool
	for _, d := range dims {
		switch a.Shape[d] {
		case len(idxs):
			keep = func(int) bool { return true }
		case nOut:
			keep = func(i int) bool { return s.batch.logits[i] }
		default:
			continue
		}
		a.TokenDim = d
		break
	}
	if keep == nil {
		return nil
	}
	s.tokens = s.tokens[:0]
	for _, i := range idxs {
		if keep(i) {
			s.tokens = append(s.tokens, TokenRef{Index: i, Token: s.batch.tokens[i], Pos: int(s.batch.pos[i]),
				Seq: int(s.batch.seqs[i]), Logits: s.batch.logits[i], Tag: s.batch.tags[i]})
		}
	}
	return s.tokens
}

// planMicroBatches predicts how llama.cpp's KV cache splits a batch into
// micro-batches (llama_batch_allocr::split_simple and, with one KV stream per
// sequence, split_equal in sequential mode), so that hooks can tell which
// token each row is. It mirrors llama-batch.cpp at the pinned version, and
// is never trusted blindly: every micro-batch computed under hooks is
// checked against it as it runs (attribution.go), and a disagreement fails
// the decode with ErrAttribution.
func planMicroBatches(b *Batch, nUbatch int, equal bool) [][]int {
	n := b.Len()
	var plan [][]int
	if !equal {
		for start := 0; start < n; start += nUbatch {
			end := min(start+nUbatch, n)
			idxs := make([]int, 0, end-start)
			for i := start; i < end; i++ {
				idxs = append(idxs, i)
			}
			plan = append(plan, idxs)
		}
		return plan
	}

	bySeq := map[int32][]int{} // each sequence's batch indices, in order
	for i, s := range b.seqs {
		bySeq[s] = append(bySeq[s], i)
	}
	used := make([]bool, n)
	next := map[int32]int{} // per sequence: first unused position in bySeq
	for {
		// The sequences of this micro-batch: starting from the first unused
		// token, consecutive ids in increasing order.
		var seqs []int32
		last := int32(-1)
		for i := 0; i < n; i++ {
			if used[i] {
				continue
			}
			s := b.seqs[i]
			if slices.Contains(seqs, s) || (len(seqs) > 0 && s != last+1) {
				continue
			}
			seqs = append(seqs, s)
			last = s
			if len(seqs) > nUbatch {
				break
			}
		}
		if len(seqs) == 0 {
			return plan
		}
		per := make([][]int, len(seqs))
	expand:
		for {
			for _, s := range seqs {
				if next[s] >= len(bySeq[s]) {
					break expand
				}
			}
			for k, s := range seqs {
				idx := bySeq[s][next[s]]
				per[k] = append(per[k], idx)
				used[idx] = true
				next[s]++
			}
			if (len(per[0])+1)*len(seqs) > nUbatch {
				break
			}
		}
		var idxs []int
		for _, p := range per {
			idxs = append(idxs, p...)
		}
		plan = append(plan, idxs)
	}
}
