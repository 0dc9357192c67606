// Package llamatest generates small, real GGUF models with random weights
// for tests, benchmarks and examples: no machine of the project can download
// weights, and these files load, tokenize and generate in llama.cpp.
//
// # Models
//
// A [Config] describes a Qwen2 model (general.architecture = qwen2): its
// layers, widths, heads and grouped-query key/value heads, the type of its
// weights (F32, F16 or BF16) and the seed of its weights. [DefaultConfig]
// is 4 layers, n_embd 64, 4 heads, 2 key/value heads and n_ff 128 in F32.
// [WriteModel] writes one; the same config and seed always give the same
// bytes. [Model] hands tests a path to one, writing each config at most once
// per process and reusing the files of earlier processes.
//
// The weights are normal draws scaled so that every path through the network
// stays at about unit scale and the logits spread with a standard deviation
// near 3: greedy decoding then gives varied text rather than one repeated
// token, and never stops early on a control token (model.go says why).
//
// # Vocabulary
//
// The tokenizer is GPT-2's byte-level BPE with no merges (as llama.cpp's
// tokenizer.ggml.model = gpt2, pre = qwen2): token b, for b below 256, is the
// byte b, spelt in GPT-2's byte-to-unicode mapping ([Tokens]), so text
// tokenizes to its bytes. Three control tokens follow: [TokenEndOfText]
// (beginning of sequence and padding), [TokenIMStart] and [TokenIMEnd] (end
// of generation). [ChatTemplate] is a ChatML template, which llama.cpp
// detects as chatml.
//
// # Concurrency
//
// Every function is safe for concurrent use.
package llamatest
