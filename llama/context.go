package llama

// #include <stdlib.h>
// #include "bridge.h"
import "C"

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Context is an inference session on a [Model]: a KV cache holding one or
// more sequences, the batch and logits buffers, and the hooks registered on
// its graph. A Context serves one goroutine at a time (several contexts on
// one model may run at once), with one exception: Close may be called from
// any goroutine, at any time; it stops a decode in progress and waits for the
// running call to return. Close it before the model.
type Context struct {
	// mu is held by every call that uses the C objects, for its whole
	// duration; Close takes it to free them.
	mu      sync.Mutex
	c       *C.struct_llama_context
	model   *Model
	state   *C.rlm_context_state // C memory shared with llama.cpp's callbacks
	batch   C.struct_llama_batch // reused for every Decode
	hooks   *hookSet             // reachable from C only through the registry, weakly
	hooksID uintptr              // the hooks' registry key, state.hooks_id

	// life ends when Close starts: a decode in progress aborts, and calls
	// that start later fail with ErrClosed.
	life    context.Context
	endLife context.CancelFunc
	leak    runtime.Cleanup // reports a Context dropped without Close

	nCtx, nBatch, nUbatch, nSeq int
	unifiedKV                   bool

	nodeNames []string // cached by NodeNames
	// known[s] is what sequence s's cache holds, as far as generation
	// knows, so that a later prompt with the same start reuses it; nil when
	// unknown (the caller decoded or edited the cache directly).
	known      [][]Token
	embeddings bool // made WithEmbeddings

	// rebuildGraph asks the next Decode to build its graph anew: llama.cpp
	// reuses the previous graph when only the control vector changed.
	// lastEmbeddings is the embeddings flag the last Decode ran with.
	rebuildGraph   bool
	lastEmbeddings bool

	// outputs[i] reports whether batch index i of the last Decode asked for
	// logits: llama.cpp aborts on a request for any other index.
	outputs []bool
}

// ContextOption configures [Model.NewContext].
type ContextOption func(*contextConfig)

type contextConfig struct {
	nCtx, nBatch, nUbatch, nSeq int
	threads, threadsBatch       int
	embeddings                  bool
	flashAttn                   *FlashAttention
	unifiedKV                   bool
}

// FlashAttention selects llama.cpp's flash-attention kernels.
type FlashAttention int

const (
	FlashAttentionAuto FlashAttention = iota - 1 // llama.cpp decides (the default where a GPU is present)
	FlashAttentionOff                            // needed to observe attention patterns (kq_soft_max-N)
	FlashAttentionOn
)

// WithContextSize sets the KV cache size in tokens, shared by all sequences
// (each gets size/sequences). Default 4096; 0 means the model's training
// context.
func WithContextSize(n int) ContextOption { return func(c *contextConfig) { c.nCtx = n } }

// WithBatchSize sets the most tokens one Decode may take. Default 2048.
func WithBatchSize(n int) ContextOption { return func(c *contextConfig) { c.nBatch = n } }

// WithMicroBatchSize sets the most tokens computed in one graph evaluation;
// larger batches are split into micro-batches of this size. Default 512.
func WithMicroBatchSize(n int) ContextOption { return func(c *contextConfig) { c.nUbatch = n } }

// WithSequences sets how many independent sequences the context holds at
// once (parallel prompts in GenerateBatch). Default 1.
func WithSequences(n int) ContextOption { return func(c *contextConfig) { c.nSeq = n } }

// WithThreads sets the CPU threads for generation (one token at a time) and
// for batches (prompts). Default: every CPU for both.
func WithThreads(generation, batch int) ContextOption {
	return func(c *contextConfig) { c.threads, c.threadsBatch = generation, batch }
}

// WithEmbeddings makes Decode also keep the final hidden states of output
// positions (see Context.Embeddings). Default false.
func WithEmbeddings() ContextOption { return func(c *contextConfig) { c.embeddings = true } }

// WithFlashAttention chooses flash attention. Default: FlashAttentionAuto
// (llama.cpp enables it where the device supports it) when a GPU backend is
// loaded, and FlashAttentionOff on machines with only the CPU, where
// llama.cpp's flash-attention kernels are slower than the plain ones: 1.4x
// on a 2048-token prompt of an 8-layer model, 3.5x on a 12K-token prompt of
// a small one, and 1.7x per generated token at that length, in our
// measurements.
func WithFlashAttention(f FlashAttention) ContextOption {
	return func(c *contextConfig) { c.flashAttn = &f }
}

// WithUnifiedKV makes all sequences share one KV buffer (llama.cpp's
// kv_unified), which pays off when sequences share a long prefix. Default
// false: each sequence has its own stream.
func WithUnifiedKV() ContextOption { return func(c *contextConfig) { c.unifiedKV = true } }

// NewContext creates an inference context on the model.
func (m *Model) NewContext(opts ...ContextOption) (*Context, error) {
	cfg := contextConfig{nCtx: 4096, nBatch: 2048, nUbatch: 512, nSeq: 1}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.nBatch <= 0 || cfg.nUbatch <= 0 || cfg.nSeq <= 0 || cfg.nCtx < 0 {
		return nil, &Error{Op: "new context", Err: fmt.Errorf("sizes must be positive: batch %d, micro-batch %d, sequences %d, context %d",
			cfg.nBatch, cfg.nUbatch, cfg.nSeq, cfg.nCtx)}
	}
	if max := int(C.llama_max_parallel_sequences()); cfg.nSeq > max {
		return nil, &Error{Op: "new context", Err: fmt.Errorf("%d sequences requested, llama.cpp supports at most %d", cfg.nSeq, max)}
	}
	if cfg.nUbatch > cfg.nBatch {
		cfg.nUbatch = cfg.nBatch
	}
	if cfg.threads <= 0 {
		cfg.threads = runtime.NumCPU()
	}
	if cfg.threadsBatch <= 0 {
		cfg.threadsBatch = cfg.threads
	}

	// The read lock keeps the model open while the context is made; the
	// count, raised under it, keeps it open after.
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.c == nil {
		return nil, &Error{Op: "new context", Err: ErrClosed}
	}
	if bool(C.llama_model_has_encoder(m.c)) || !bool(C.llama_model_has_decoder(m.c)) {
		return nil, &Error{Op: "new context", Err: errors.New("only decoder-only models are supported")}
	}
	if C.llama_model_n_layer(m.c) == 0 || C.llama_model_size(m.c) == 0 {
		return nil, &Error{Op: "new context", Err: errVocabOnly}
	}

	params := C.llama_context_default_params()
	params.n_ctx = C.uint32_t(cfg.nCtx)
	params.n_batch = C.uint32_t(cfg.nBatch)
	params.n_ubatch = C.uint32_t(cfg.nUbatch)
	params.n_seq_max = C.uint32_t(cfg.nSeq)
	params.n_threads = C.int32_t(cfg.threads)
	params.n_threads_batch = C.int32_t(cfg.threadsBatch)
	params.embeddings = C.bool(cfg.embeddings)
	params.kv_unified = C.bool(cfg.unifiedKV)
	params.no_perf = true
	switch {
	case cfg.flashAttn != nil:
		params.flash_attn_type = C.enum_llama_flash_attn_type(*cfg.flashAttn)
	case !haveGPU():
		params.flash_attn_type = C.enum_llama_flash_attn_type(FlashAttentionOff)
	}

	// The callbacks' state lives in C memory: llama.cpp keeps the pointer
	// for the context's lifetime. It names the hooks by a registry key, not
	// by a Go pointer or handle, so that nothing in C keeps the Context
	// reachable and a leaked one can be reported.
	state := (*C.rlm_context_state)(C.calloc(1, C.size_t(unsafe.Sizeof(C.rlm_context_state{}))))
	if state == nil {
		return nil, &Error{Op: "new context", Err: errors.New("out of memory")}
	}
	hooks := newHookSet(state)
	id := registerHooks(hooks)
	state.hooks_id = C.uintptr_t(id)
	params.cb_eval = C.ggml_backend_sched_eval_callback(C.rlm_eval_callback)
	params.cb_eval_user_data = unsafe.Pointer(state)
	params.abort_callback = C.ggml_abort_callback(C.rlm_abort_callback)
	params.abort_callback_data = unsafe.Pointer(state)

	var cc *C.struct_llama_context
	log := logged(func() { cc = C.llama_init_from_model(m.c, params) })
	if cc == nil || log.err() != nil {
		if cc != nil {
			C.llama_free(cc)
		}
		unregisterHooks(id)
		C.free(unsafe.Pointer(state))
		return nil, &Error{Op: "new context", Err: log.err(), Detail: log.detail()}
	}
	c := &Context{
		c: cc, model: m, state: state, hooks: hooks, hooksID: id,
		nCtx:      int(C.llama_n_ctx(cc)),
		nBatch:    int(C.llama_n_batch(cc)),
		nUbatch:   int(C.llama_n_ubatch(cc)),
		nSeq:      int(C.llama_n_seq_max(cc)),
		unifiedKV: cfg.unifiedKV, embeddings: cfg.embeddings,
	}
	c.life, c.endLife = context.WithCancel(context.Background())
	c.known = make([][]Token, c.nSeq)
	c.batch = C.llama_batch_init(C.int32_t(c.nBatch), 0, 1)
	if c.batch.token == nil {
		c.free()
		return nil, &Error{Op: "new context", Err: errors.New("out of memory for the batch")}
	}
	m.contexts.Add(1)
	c.leak = runtime.AddCleanup(c, func(l contextLeak) {
		leakf("Context on %s was not closed", l.path)
		unregisterHooks(l.hooksID)
	}, contextLeak{m.path, id})
	return c, nil
}

// contextLeak is what a Context's cleanup needs to report it: nothing that
// points back to the Context.
type contextLeak struct {
	path    string
	hooksID uintptr
}

// Close frees the context. It may be called from any goroutine: a decode in
// progress is stopped (its call returns an error wrapping ErrClosed) and
// Close waits for the running call to return first. A hook must not call
// Close on its own context. Close is safe to call more than once and on nil.
func (c *Context) Close() error {
	if c == nil || c.endLife == nil {
		return nil
	}
	c.endLife()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return nil
	}
	c.free()
	// Only now, with the context freed, may the model be closed.
	c.model.contexts.Add(-1)
	c.leak.Stop()
	return nil
}

// free releases the C objects; c.mu is held (or c is not shared yet).
func (c *Context) free() {
	if c.batch.token != nil {
		C.llama_batch_free(c.batch)
		c.batch = C.struct_llama_batch{}
	}
	if c.c != nil {
		C.llama_free(c.c)
		c.c = nil
	}
	if c.state != nil {
		unregisterHooks(c.hooksID)
		C.free(unsafe.Pointer(c.state))
		c.state = nil
		c.hooks.state = nil
	}
}

// lock takes the context for one call. It fails with ErrClosed after Close
// (or once Close has started), and with ErrInCallback when a hook or a
// stream function calls back into its context, which would otherwise
// deadlock. On success the caller
// unlocks c.mu.
func (c *Context) lock(op string) error {
	if c == nil || c.endLife == nil {
		return &Error{Op: op, Err: ErrClosed}
	}
	if c.hooks.running.Load() {
		return &Error{Op: op, Err: ErrInCallback}
	}
	c.mu.Lock()
	if c.c == nil || c.life.Err() != nil {
		c.mu.Unlock()
		return &Error{Op: op, Err: ErrClosed}
	}
	return nil
}

// Model returns the model the context runs.
func (c *Context) Model() *Model { return c.model }

// Size is the KV cache size in tokens, for all sequences together.
func (c *Context) Size() int { return c.nCtx }

// SequenceSize is the most tokens one sequence can hold.
func (c *Context) SequenceSize() int {
	if c.unifiedKV {
		return c.nCtx
	}
	return c.nCtx / c.nSeq
}

// BatchSize is the most tokens one Decode takes.
func (c *Context) BatchSize() int { return c.nBatch }

// MicroBatchSize is the most tokens computed in one graph evaluation.
func (c *Context) MicroBatchSize() int { return c.nUbatch }

// Sequences is the number of sequences the context holds.
func (c *Context) Sequences() int { return c.nSeq }

// SetThreads changes the CPU threads for generation and for batches.
func (c *Context) SetThreads(generation, batch int) error {
	if err := c.lock("set threads"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	if generation <= 0 || batch <= 0 {
		return &Error{Op: "set threads", Err: fmt.Errorf("threads must be positive: %d, %d", generation, batch)}
	}
	C.llama_set_n_threads(c.c, C.int32_t(generation), C.int32_t(batch))
	return nil
}

// Decode runs the model on a batch, appending its tokens to their sequences'
// KV cache and computing logits where the batch asked for them. Cancelling
// ctx aborts the computation within one graph node; the batch's tokens are
// then removed from the cache again and the error wraps ctx.Err(). An error
// from a hook aborts the decode the same way and is returned; so does Close
// called from another goroutine (the error wraps ErrClosed).
func (c *Context) Decode(ctx context.Context, b *Batch) error {
	if err := c.lock("decode"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	for _, s := range b.seqs {
		if s >= 0 && int(s) < len(c.known) {
			c.known[s] = nil
		}
	}
	return c.decode(ctx, b)
}

// decode is Decode without forgetting what generation knows of the cache;
// c.mu is held.
func (c *Context) decode(ctx context.Context, b *Batch) error {
	n := b.Len()
	if n == 0 {
		return &Error{Op: "decode", Err: errors.New("empty batch")}
	}
	if n > c.nBatch {
		return &Error{Op: "decode", Err: fmt.Errorf("%w: %d tokens, batch size %d", ErrBatchTooLarge, n, c.nBatch)}
	}
	if err := cmp.Or(ctx.Err(), c.closedErr()); err != nil {
		return &Error{Op: "decode", Err: err}
	}
	if err := c.model.checkTokens(c.model.c, b.tokens); err != nil {
		return &Error{Op: "decode", Err: err}
	}
	for i, s := range b.seqs {
		if s < 0 || int(s) >= c.nSeq {
			return &Error{Op: "decode", Err: fmt.Errorf("batch index %d: sequence %d outside [0, %d)", i, s, c.nSeq)}
		}
	}
	c.fillCBatch(b)
	c.outputs = append(c.outputs[:0], b.logits...)

	// Only a decode under hooks needs to know how llama.cpp will split it;
	// the hooks check every micro-batch against this plan as it runs.
	hooked := c.hooks.active()
	if hooked {
		c.hooks.begin(b, microBatchPlan(b, c.nUbatch, c.splitsEqually()), c.kvStreams())
		defer c.hooks.end()
	}

	// Both the caller's ctx and Close (ending c.life) stop the decode
	// through llama.cpp's abort callback.
	abort := (*int32)(unsafe.Pointer(&c.state.abort_flag))
	atomic.StoreInt32(abort, 0)
	var aborting sync.WaitGroup
	stopAbort := func() { atomic.StoreInt32(abort, 1); aborting.Done() }
	aborting.Add(2)
	stopCtx := context.AfterFunc(ctx, stopAbort)
	stopLife := context.AfterFunc(c.life, stopAbort)
	if c.rebuildGraph {
		// The embeddings flag is part of what llama.cpp compares before
		// reusing a graph: flipping it from the last decode's value forces a
		// new graph, and for a context without WithEmbeddings it only adds
		// an output.
		c.lastEmbeddings = !c.lastEmbeddings
		C.llama_set_embeddings(c.c, C.bool(c.lastEmbeddings))
		defer C.llama_set_embeddings(c.c, C.bool(c.embeddings))
		c.rebuildGraph = false
	} else {
		c.lastEmbeddings = c.embeddings
	}
	var rc C.int32_t
	log := logged(func() { rc = C.llama_decode(c.c, c.batch) })
	// An abort that started must finish before the flag's memory can be
	// freed by Close; one that did not start never will.
	if stopCtx() {
		aborting.Done()
	}
	if stopLife() {
		aborting.Done()
	}
	aborting.Wait()

	if rc == 0 && hooked {
		// Every planned micro-batch must have run, and no other.
		if err := c.hooks.finish(); err != nil {
			c.rollback(b)
			return &Error{Op: "decode", Err: err}
		}
	}
	if err := log.err(); err != nil {
		if rc == 0 || rc < -1 || rc == 2 {
			c.rollback(b)
		}
		return &Error{Op: "decode", Err: err}
	}
	switch {
	case rc == 0:
		return nil
	case rc == 1:
		return &Error{Op: "decode", Code: int(rc), Err: ErrKVCacheFull}
	case rc == 2:
		// Micro-batches computed before the abort stay in the cache:
		// take the whole batch back out so the sequences stay consistent.
		c.rollback(b)
		if err := c.hooks.err(); err != nil {
			return &Error{Op: "decode", Err: err}
		}
		if err := cmp.Or(ctx.Err(), c.closedErr()); err != nil {
			return &Error{Op: "decode", Err: err}
		}
		return &Error{Op: "decode", Code: int(rc), Err: errors.New("aborted")}
	default:
		if rc < -1 {
			c.rollback(b)
		}
		return &Error{Op: "decode", Code: int(rc), Detail: log.detail()}
	}
}

// closedErr returns ErrClosed once Close has started.
func (c *Context) closedErr() error {
	if c.life.Err() != nil {
		return ErrClosed
	}
	return nil
}

// splitsEqually reports whether llama.cpp splits batches with split_equal
// (one KV stream per sequence) rather than in batch order.
func (c *Context) splitsEqually() bool { return !c.unifiedKV && c.nSeq > 1 }

// kvStreams is the number of KV streams: one per sequence unless unified.
func (c *Context) kvStreams() int {
	if c.unifiedKV {
		return 1
	}
	return c.nSeq
}

func (c *Context) fillCBatch(b *Batch) {
	n := b.Len()
	c.batch.n_tokens = C.int32_t(n)
	copy(unsafe.Slice((*Token)(unsafe.Pointer(c.batch.token)), n), b.tokens)
	copy(unsafe.Slice((*int32)(unsafe.Pointer(c.batch.pos)), n), b.pos)
	nSeqID := unsafe.Slice((*int32)(unsafe.Pointer(c.batch.n_seq_id)), n)
	seqIDs := unsafe.Slice(c.batch.seq_id, n)
	logits := unsafe.Slice((*int8)(unsafe.Pointer(c.batch.logits)), n)
	for i := 0; i < n; i++ {
		nSeqID[i] = 1
		*seqIDs[i] = C.llama_seq_id(b.seqs[i])
		logits[i] = 0
		if b.logits[i] {
			logits[i] = 1
		}
	}
}

// rollback removes the positions a failed batch may have left in the cache.
func (c *Context) rollback(b *Batch) {
	first := map[int32]int32{}
	for i, s := range b.seqs {
		if p, ok := first[s]; !ok || b.pos[i] < p {
			first[s] = b.pos[i]
		}
	}
	mem := C.llama_get_memory(c.c)
	for s, p := range first {
		C.llama_memory_seq_rm(mem, C.llama_seq_id(s), C.llama_pos(p), -1)
	}
}

// Logits returns a copy of the logits computed for batch index i of the last
// Decode, one per vocabulary entry. The batch must have asked for them.
func (c *Context) Logits(i int) ([]float32, error) {
	return c.LogitsTo(nil, i)
}

// LogitsTo is Logits writing into dst (grown as needed), for loops that
// would otherwise allocate each step.
func (c *Context) LogitsTo(dst []float32, i int) ([]float32, error) {
	if err := c.lock("logits"); err != nil {
		return nil, err
	}
	defer c.mu.Unlock()
	if i < 0 || i >= len(c.outputs) || !c.outputs[i] {
		return nil, &Error{Op: "logits", Err: fmt.Errorf("%w: index %d", ErrNoLogits, i)}
	}
	p := C.llama_get_logits_ith(c.c, C.int32_t(i))
	if p == nil {
		return nil, &Error{Op: "logits", Err: fmt.Errorf("%w: index %d", ErrNoLogits, i)}
	}
	n := int(C.llama_vocab_n_tokens(c.model.vocab))
	dst = append(dst[:0], unsafe.Slice((*float32)(unsafe.Pointer(p)), n)...)
	return dst, nil
}

// Embeddings returns a copy of the final hidden state at batch index i of
// the last Decode (after the output norm). The context needs WithEmbeddings.
func (c *Context) Embeddings(i int) ([]float32, error) {
	if err := c.lock("embeddings"); err != nil {
		return nil, err
	}
	defer c.mu.Unlock()
	if i < 0 || i >= len(c.outputs) || !c.outputs[i] {
		return nil, &Error{Op: "embeddings", Err: fmt.Errorf("%w: index %d", ErrNoLogits, i)}
	}
	p := C.llama_get_embeddings_ith(c.c, C.int32_t(i))
	if p == nil {
		return nil, &Error{Op: "embeddings", Err: errors.New("context made without WithEmbeddings")}
	}
	n := int(C.llama_model_n_embd(c.model.c))
	return append([]float32(nil), unsafe.Slice((*float32)(unsafe.Pointer(p)), n)...), nil
}

// KV cache edits. Each returns nil when done and an error otherwise: one
// wrapping ErrClosed after Close, one wrapping ErrKVEdit when llama.cpp's
// cache refuses the edit, and a plain one for arguments out of range.

// ClearKV empties the KV cache of every sequence.
func (c *Context) ClearKV() error {
	if err := c.lock("clear KV cache"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	C.llama_memory_clear(C.llama_get_memory(c.c), true)
	for s := range c.known {
		c.known[s] = c.known[s][:0]
	}
	return nil
}

// RemoveTokens removes sequence seq's positions [from, to) from the cache;
// to < 0 means to the end, and seq < 0 means every sequence. A cache that
// cannot remove part of a sequence fails with ErrKVEdit.
func (c *Context) RemoveTokens(seq, from, to int) error {
	const op = "remove tokens"
	if err := c.lock(op); err != nil {
		return err
	}
	defer c.mu.Unlock()
	if seq >= c.nSeq {
		return &Error{Op: op, Err: fmt.Errorf("sequence %d outside [0, %d)", seq, c.nSeq)}
	}
	if to >= 0 {
		c.forget(seq)
	}
	if !c.removeTokens(seq, from, to) {
		return &Error{Op: op, Err: fmt.Errorf("%w: positions [%d, %d) of sequence %d", ErrKVEdit, from, to, seq)}
	}
	return nil
}

// removeTokens removes [from, to) and keeps known up to date when to < 0.
func (c *Context) removeTokens(seq, from, to int) bool {
	ok := bool(C.llama_memory_seq_rm(C.llama_get_memory(c.c), C.llama_seq_id(seq), C.llama_pos(from), C.llama_pos(to)))
	if !ok || to >= 0 {
		return ok
	}
	from = max(from, 0)
	for s := range c.known {
		if (seq < 0 || s == seq) && c.known[s] != nil && from < len(c.known[s]) {
			c.known[s] = c.known[s][:from]
		}
	}
	return true
}

// forget marks what sequence seq's cache holds as unknown (every sequence
// for seq < 0).
func (c *Context) forget(seq int) {
	for s := range c.known {
		if seq < 0 || s == seq {
			c.known[s] = nil
		}
	}
}

// CopySequence makes positions [from, to) of sequence src visible to
// sequence dst too (to < 0: to the end), so a shared prefix is computed once.
func (c *Context) CopySequence(src, dst, from, to int) error {
	const op = "copy sequence"
	if err := c.lock(op); err != nil {
		return err
	}
	defer c.mu.Unlock()
	if src < 0 || dst < 0 || src >= c.nSeq || dst >= c.nSeq {
		return &Error{Op: op, Err: fmt.Errorf("sequences %d, %d outside [0, %d)", src, dst, c.nSeq)}
	}
	C.llama_memory_seq_cp(C.llama_get_memory(c.c), C.llama_seq_id(src), C.llama_seq_id(dst), C.llama_pos(from), C.llama_pos(to))
	c.forget(dst)
	return nil
}

// KeepSequence removes every sequence but seq from the cache.
func (c *Context) KeepSequence(seq int) error {
	const op = "keep sequence"
	if err := c.lock(op); err != nil {
		return err
	}
	defer c.mu.Unlock()
	if seq < 0 || seq >= c.nSeq {
		return &Error{Op: op, Err: fmt.Errorf("sequence %d outside [0, %d)", seq, c.nSeq)}
	}
	C.llama_memory_seq_keep(C.llama_get_memory(c.c), C.llama_seq_id(seq))
	for s := range c.known {
		if s != seq {
			c.known[s] = c.known[s][:0:0]
		}
	}
	return nil
}

// SequenceEnd returns one past the last position sequence seq holds, 0 if
// it is empty: the position the next token of seq takes.
func (c *Context) SequenceEnd(seq int) (int, error) {
	const op = "sequence end"
	if err := c.lock(op); err != nil {
		return 0, err
	}
	defer c.mu.Unlock()
	if seq < 0 || seq >= c.nSeq {
		return 0, &Error{Op: op, Err: fmt.Errorf("sequence %d outside [0, %d)", seq, c.nSeq)}
	}
	return c.sequenceEnd(seq), nil
}

func (c *Context) sequenceEnd(seq int) int {
	return int(C.llama_memory_seq_pos_max(C.llama_get_memory(c.c), C.llama_seq_id(seq))) + 1
}
