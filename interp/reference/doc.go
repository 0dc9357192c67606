// Package reference is a forward pass of the Qwen2 architecture in pure Go,
// written from the model's definition rather than from llama.cpp's code: the
// ground truth that tests hold llama.cpp's activations and logits to.
//
// # Use
//
// [Load] reads a GGUF file's weights (F32 and F16, or any type package gguf
// dequantizes) and hyperparameters (the qwen2.* keys: heads, key/value
// heads, rope frequency base, RMS epsilon); [Model.Forward] runs a token
// sequence and returns every activation in a [Result], one row per token:
//
//	m, err := reference.Load("model.gguf")
//	...
//	res, err := m.Forward(ctx, []int{72, 101, 108, 108, 111})
//	...
//	res.ResidPost[3] // tokens × n_embd, llama.cpp's l_out-3
//	res.Logits       // tokens × n_vocab
//
// # The computation
//
// Token embeddings; then per layer an RMSNorm (weight applied), the query,
// key and value projections with their biases, NEOX-style rotary
// embeddings (dimensions i and i+d/2 rotate together), causal grouped-query
// attention scaled by 1/√d (query head h reads key/value head
// h/(heads/kv_heads)), the output projection, a residual add, a second
// RMSNorm, a SwiGLU MLP (silu(gate)·up, then down) and a residual add; then
// a final RMSNorm and the output projection (the token embeddings when the
// file has no output.weight). Everything is float64.
//
// # Agreement with llama.cpp
//
// llama.cpp computes in float32 and rounds some values to half precision:
// its KV cache is F16 by default, so keys and values are rounded as they
// are stored, and its CPU matrix products round their F32 operand to F16
// when the other is F16 (on x86). The exact pass therefore differs from
// llama.cpp by about half-precision rounding, compounded over the layers:
// the package's tests hold every activation and the logits to within 2e-3
// of each tensor's largest magnitude (observed: up to 9e-4).
// [WithLlamaRounding] rounds at those same places; on a one-token input the
// difference then falls to float32 arithmetic (within 2e-6), which shows
// that rounding is all of it. On longer inputs a few values that lie within
// float32 error of a rounding boundary round the other way, and the
// agreement is again that of half precision.
//
// The rotation angles of the rotary embedding are computed as ggml computes
// them, a running float32 product, since that is what a GGUF model means to
// llama.cpp. Rope scaling (YaRN, linear) is not supported and [Load]
// refuses such models with [ErrUnsupported].
//
// # Cost
//
// Every weight is held as float64 and products use gonum's pure-Go BLAS:
// fine for the small generated models of tests, far too slow and large for
// a 7B model.
//
// # Concurrency
//
// A [Model] is immutable and safe for concurrent use; each [Result] belongs
// to its caller.
package reference
