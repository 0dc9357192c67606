package rlm

import "context"

// SubCallKind names the host function a sub-call came from.
type SubCallKind string

// The host functions that call the worker.
const (
	// KindSubCall is sub_call(chunk, query): the worker answers query from chunk.
	KindSubCall SubCallKind = "sub_call"
	// KindLLMQuery is llm_query(prompt): the prompt goes to the worker as is.
	KindLLMQuery SubCallKind = "llm_query"
	// KindLLMQueryBatched is one item of llm_query_batched(prompts).
	KindLLMQueryBatched SubCallKind = "llm_query_batched"
	// KindRLMQuery is rlm_query(text, query): a child RLM, or a plain worker
	// call when the recursion depth allows no child.
	KindRLMQuery SubCallKind = "rlm_query"
	// KindRLMQueryBatched is one item of rlm_query_batched(texts, query).
	KindRLMQueryBatched SubCallKind = "rlm_query_batched"
)

// SubCallInfo identifies a sub-call while the worker answers it, so that an
// [LM] wrapper can attribute what it observes (activations, timings) to the
// sub-call it belongs to.
type SubCallInfo struct {
	// ID is unique among the sub-calls of one [RLM.Run], child RLMs
	// included, and starts at 1. Observer events carry the same ID.
	ID int64 `json:"id"`
	// Depth is the recursion depth of the call: 1 for sub-calls made by the
	// root controller's code, 2 for those of a child RLM.
	Depth int         `json:"depth"`
	Kind  SubCallKind `json:"kind"`
	// Model names the worker that answers when it is one added with
	// [WithWorker]; empty for the worker given to [New] ([DefaultWorker]).
	// For a child RLM, the worker its own sub-calls use by default.
	Model string `json:"model,omitempty"`
	// Document is the index of the document the chunk was found in, among
	// the documents of the run that made the call (a [Session] may have
	// several; a run has one, 0).
	Document int `json:"document,omitempty"`
	// Offset is where the chunk starts in that document, in bytes, or -1
	// when the chunk is not a slice of any of the run's documents.
	Offset int `json:"offset"`
	// Length is the length of the chunk (for llm_query, of the prompt) in
	// bytes.
	Length int `json:"length"`
	// Query is the question asked about the chunk: for llm_query, the
	// prompt itself, shortened to its first and last 1,000 bytes; for a
	// child RLM, its question.
	Query string `json:"query"`
}

type subCallKey struct{}

type subCallBatchKey struct{}

// ContextWithSubCall returns a copy of ctx that carries info; the engine
// calls it before [LM.Complete] of a worker call. It is exported so that
// LM wrappers can be tested on their own.
func ContextWithSubCall(ctx context.Context, info SubCallInfo) context.Context {
	return context.WithValue(ctx, subCallKey{}, info)
}

// SubCallFromContext returns the sub-call a worker's [LM.Complete] is
// answering; ok is false for controller calls and outside the engine.
func SubCallFromContext(ctx context.Context) (info SubCallInfo, ok bool) {
	info, ok = ctx.Value(subCallKey{}).(SubCallInfo)
	return info, ok
}

// ContextWithSubCallBatch returns a copy of ctx that carries infos, one per
// conversation of a [BatchLM.CompleteBatch] call, in order.
func ContextWithSubCallBatch(ctx context.Context, infos []SubCallInfo) context.Context {
	return context.WithValue(ctx, subCallBatchKey{}, infos)
}

// SubCallsFromContext returns the sub-calls a worker's
// [BatchLM.CompleteBatch] is answering, one per conversation in order; ok is
// false outside a batch. The slice must not be modified.
func SubCallsFromContext(ctx context.Context) (infos []SubCallInfo, ok bool) {
	infos, ok = ctx.Value(subCallBatchKey{}).([]SubCallInfo)
	return infos, ok
}
