package llama

// #include <string.h>
// #include "bridge.h"
import "C"

import (
	"fmt"
	"slices"
	"unsafe"
)

// Token attribution: which token each row of a hooked node belongs to.
//
// llama.cpp splits a batch into micro-batches by rules of its own, and a
// graph node's rows are the tokens of one micro-batch in an order it chose.
// planMicroBatches predicts the split. Under hooks, every micro-batch is
// checked against the prediction with what llama.cpp actually feeds the
// graph, read from the graph's inputs as the scheduler reaches the nodes
// that use them:
//
//   - the token ids (the get_rows of token_embd.weight, the graph's first
//     node: it also marks the start of each micro-batch);
//   - the positions (the position input of the first RoPE node);
//   - with one KV stream per sequence, each row's sequence (the cache rows
//     the first K store writes, stream by stream);
//   - the rows kept for outputs in the last layer (the out_ids input).
//
// Any disagreement, a micro-batch without these inputs, or a different
// number of micro-batches fails the decode with ErrAttribution: hooks are
// never handed rows under the wrong tokens without the caller being told.

// checks records what the current micro-batch was verified against.
type checks struct {
	positions, streams, outputs bool
}

// verifyAttribution turns the checks off, only for the benchmark that
// measures what they cost.
var verifyAttribution = true

// microBatchPlan is planMicroBatches, replaced by tests that make the plan
// wrong on purpose to see the checks fail.
var microBatchPlan = planMicroBatches

// check verifies the micro-batch plan against node t when t reads one of
// the graph inputs listed above; other nodes pass.
func (s *hookSet) check(t *C.struct_ggml_tensor) error {
	if s.batch == nil {
		return nil
	}
	if !verifyAttribution {
		if t.op == C.GGML_OP_GET_ROWS && isTokenEmbedding(t.src[0]) {
			s.micro++ // unchecked: count micro-batches only
		}
		return nil
	}
	switch t.op {
	case C.GGML_OP_GET_ROWS:
		ids := t.src[1]
		if ids == nil || ids._type != C.GGML_TYPE_I32 {
			return nil
		}
		if isTokenEmbedding(t.src[0]) {
			return s.startMicroBatch(ids)
		}
		if s.micro >= 0 && !s.seen.outputs && t.src[0].op != C.GGML_OP_NONE && ids.ne[1] == 1 {
			s.seen.outputs = true
			return s.checkOutputs(ids)
		}
	case C.GGML_OP_ROPE:
		if s.micro >= 0 && !s.seen.positions && t.src[1] != nil && t.src[1]._type == C.GGML_TYPE_I32 {
			s.seen.positions = true
			return s.checkPositions(t.src[1])
		}
	case C.GGML_OP_SET_ROWS:
		idx := t.src[1]
		if s.micro >= 0 && s.streams > 1 && !s.seen.streams && idx != nil && idx._type == C.GGML_TYPE_I64 &&
			int(idx.ne[0]) == len(s.plan[s.micro]) && idx.ne[1] == 1 {
			s.seen.streams = true
			return s.checkStreams(t, idx)
		}
	}
	return nil
}

// isTokenEmbedding reports whether t is the model's token embedding matrix.
func isTokenEmbedding(t *C.struct_ggml_tensor) bool {
	return t != nil && t.op == C.GGML_OP_NONE && C.GoString(&t.name[0]) == "token_embd.weight"
}

func attributionErr(micro int, format string, args ...any) error {
	return fmt.Errorf("%w: micro-batch %d: %s", ErrAttribution, micro, fmt.Sprintf(format, args...))
}

// startMicroBatch moves to the next planned micro-batch and checks its
// token ids.
func (s *hookSet) startMicroBatch(ids *C.struct_ggml_tensor) error {
	if err := s.closeMicroBatch(); err != nil {
		return err
	}
	s.micro++
	s.seen = checks{}
	if s.micro >= len(s.plan) {
		return attributionErr(s.micro, "llama.cpp computes more micro-batches than the %d planned", len(s.plan))
	}
	idxs := s.plan[s.micro]
	if int(ids.ne[0]) != len(idxs) {
		return attributionErr(s.micro, "llama.cpp computes %d tokens, %d planned", ids.ne[0], len(idxs))
	}
	got, err := s.readInt32(ids, len(idxs))
	if err != nil {
		return attributionErr(s.micro, "token ids: %v", err)
	}
	for r, i := range idxs {
		if Token(got[r]) != s.batch.tokens[i] {
			return attributionErr(s.micro, "row %d holds token %d, planned token %d (batch index %d)", r, got[r], s.batch.tokens[i], i)
		}
	}
	return nil
}

// closeMicroBatch checks that the micro-batch that just ended was verified
// in full.
func (s *hookSet) closeMicroBatch() error {
	if s.micro < 0 {
		return nil
	}
	switch {
	case !s.seen.positions:
		return attributionErr(s.micro, "no position input was found in the graph")
	case s.streams > 1 && !s.seen.streams:
		return attributionErr(s.micro, "no KV cache store was found in the graph to tell the sequences apart")
	case !s.seen.outputs:
		return attributionErr(s.micro, "no output row selection was found in the graph")
	}
	return nil
}

// finish checks, after a decode that returned success, that every planned
// micro-batch ran and was verified.
func (s *hookSet) finish() error {
	if s.firstErr != nil {
		return s.firstErr
	}
	if !verifyAttribution {
		return nil
	}
	if s.micro+1 != len(s.plan) {
		return fmt.Errorf("%w: llama.cpp computed %d micro-batches, the plan has %d", ErrAttribution, s.micro+1, len(s.plan))
	}
	return s.closeMicroBatch()
}

func (s *hookSet) checkPositions(pos *C.struct_ggml_tensor) error {
	idxs := s.plan[s.micro]
	n := len(idxs)
	if n > 0 && int(pos.ne[0])%n != 0 {
		return attributionErr(s.micro, "the position input has %d entries for %d planned tokens", pos.ne[0], n)
	}
	// Models with several positions per token (M-RoPE) store each kind in
	// turn; the first is the token's position in its sequence.
	got, err := s.readInt32(pos, n)
	if err != nil {
		return attributionErr(s.micro, "positions: %v", err)
	}
	for r, i := range idxs {
		if got[r] != s.batch.pos[i] {
			return attributionErr(s.micro, "row %d is at position %d, planned position %d (batch index %d)", r, got[r], s.batch.pos[i], i)
		}
	}
	return nil
}

// checkStreams checks each row's sequence with one KV stream per sequence:
// the first K store of the graph (set_rows) writes row r into cache row
// stream*streamSize + cell, and sequence s owns stream s.
func (s *hookSet) checkStreams(store, idx *C.struct_ggml_tensor) error {
	idxs := s.plan[s.micro]
	cacheRows := int64(store.ne[1])
	if cacheRows%int64(s.streams) != 0 {
		return attributionErr(s.micro, "a KV cache of %d rows does not split into %d streams", cacheRows, s.streams)
	}
	streamSize := cacheRows / int64(s.streams)
	if cap(s.longs) < len(idxs) {
		s.longs = make([]int64, len(idxs))
	}
	got := s.longs[:len(idxs)]
	if err := readTensor(idx, unsafe.Pointer(unsafe.SliceData(got)), 8*len(got)); err != nil {
		return attributionErr(s.micro, "cache rows: %v", err)
	}
	for r, i := range idxs {
		if seq := got[r] / streamSize; seq != int64(s.batch.seqs[i]) {
			return attributionErr(s.micro, "row %d is stored for sequence %d, planned sequence %d (batch index %d)", r, seq, s.batch.seqs[i], i)
		}
	}
	return nil
}

// checkOutputs checks the rows the last layer keeps: those that asked for
// logits, in micro-batch order.
func (s *hookSet) checkOutputs(ids *C.struct_ggml_tensor) error {
	var want []int32
	for r, i := range s.plan[s.micro] {
		if s.batch.logits[i] {
			want = append(want, int32(r))
		}
	}
	if int(ids.ne[0]) != len(want) {
		return attributionErr(s.micro, "the last layer keeps %d rows, %d planned", ids.ne[0], len(want))
	}
	got, err := s.readInt32(ids, len(want))
	if err != nil {
		return attributionErr(s.micro, "output rows: %v", err)
	}
	if !slices.Equal(got, want) {
		return attributionErr(s.micro, "the last layer keeps rows %v, planned %v", got, want)
	}
	return nil
}

// readInt32 reads the first n values of an I32 input of the graph.
func (s *hookSet) readInt32(t *C.struct_ggml_tensor, n int) ([]int32, error) {
	if int(t.ne[0])*int(t.ne[1])*int(t.ne[2])*int(t.ne[3]) < n {
		return nil, fmt.Errorf("the input holds %d values, %d planned", t.ne[0], n)
	}
	if cap(s.ints) < n {
		s.ints = make([]int32, n)
	}
	got := s.ints[:n]
	if err := readTensor(t, unsafe.Pointer(unsafe.SliceData(got)), 4*n); err != nil {
		return nil, err
	}
	return got, nil
}

// readTensor copies the first size bytes of t, wherever the backend keeps
// it.
func readTensor(t *C.struct_ggml_tensor, dst unsafe.Pointer, size int) error {
	if size == 0 {
		return nil
	}
	if t.buffer == nil && t.data == nil {
		return fmt.Errorf("tensor %q has no data", C.GoString(&t.name[0]))
	}
	if t.buffer == nil {
		C.memcpy(dst, t.data, C.size_t(size))
		return nil
	}
	C.ggml_backend_tensor_get(t, dst, 0, C.size_t(size))
	return nil
}
