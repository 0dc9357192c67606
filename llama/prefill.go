package llama

// #include "bridge.h"
import "C"

import (
	"context"
	"unsafe"
)

// Prefill decodes tokens into sequence seq from position start, in chunks
// of the batch size, asking for logits at the last token only. It is the
// prompt-processing step of generation, exposed for throughput measurements
// and for callers that drive decoding themselves.
func (c *Context) Prefill(ctx context.Context, tokens []Token, start, seq int) error {
	var b Batch
	for from := 0; from < len(tokens); from += c.nBatch {
		to := min(from+c.nBatch, len(tokens))
		b.Reset()
		b.AddSequence(tokens[from:to], start+from, seq, to == len(tokens))
		if err := c.Decode(ctx, &b); err != nil {
			return err
		}
	}
	return nil
}

// prefillC is Prefill written as a C program would write it, a loop in C
// over llama_decode with the same chunking; benchmarks compare the two to
// measure the cost of the Go path. It does no validation.
func (c *Context) prefillC(tokens []Token, seq int) int {
	if len(tokens) == 0 {
		return 0
	}
	return int(C.rlm_prefill(c.c, &c.batch, (*C.llama_token)(unsafe.Pointer(&tokens[0])), C.int32_t(len(tokens)), C.int32_t(c.nBatch), C.llama_seq_id(seq)))
}
