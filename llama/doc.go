// Package llama runs GGUF language models in process through llama.cpp, and
// lets Go code see and change their activations while they run.
//
// It is the only package of this module that uses cgo. llama.cpp and ggml
// are compiled from the sources pinned in go.mod (see third_party/README.md);
// nothing of C appears in the API.
//
// # Models and contexts
//
// [LoadModel] loads a model (the weights, the vocabulary, the metadata);
// [Model.NewContext] makes an inference context on it (a KV cache holding one
// or more sequences).
//
//	m, err := llama.LoadModel(ctx, "qwen2.5-7b-instruct-f16.gguf", llama.WithMainGPU(1))
//	...
//	defer m.Close()
//	c, err := m.NewContext(llama.WithContextSize(8192), llama.WithSequences(8))
//	...
//	defer c.Close()
//	gen, err := c.Generate(ctx, llama.Chat(llama.ChatMessage{Role: "user", Content: chunk}), llama.WithMaxTokens(64))
//
// # Prompts: documents never become control tokens
//
// Generation takes a [Prompt]: token ids ([Tokens]), a conversation
// ([Chat]) or text ([Text]). A conversation is rendered with the model's chat
// template and tokenized by [Model.TokenizeChat], which parses only the
// template's own text for control tokens and tokenizes every message's
// content as plain text: a document that contains "<|im_end|>" or
// "<|im_start|>system" cannot end the turn it sits in or open another. Text
// prompts read control-token text as characters too. A program that writes
// control tokens as text on purpose says so with [TextWithControlTokens].
// [Model.ApplyChatTemplate] renders a conversation as text for reading only;
// [Model.Tokenize] with parseSpecial is for trusted text.
//
// # Chat templates
//
// The chat template is the Jinja program a GGUF file stores in
// tokenizer.chat_template. It is run by a Jinja engine (package
// chattemplate), as Hugging Face's apply_chat_template and llama.cpp's
// --jinja run it, with the variables they give it (messages,
// add_generation_prompt, and the vocabulary's bos_token and eos_token): the
// text equals Hugging Face's rendering, which the tests check on Qwen2.5's
// template (its default system message included) against Hugging Face's own
// renderer. A template that does not parse, or that stops on a conversation
// (raise_exception), is an error wrapping [ErrChatTemplate] that says why;
// nothing falls back to llama.cpp's llama_chat_apply_template, which does
// not run Jinja but guesses a format from words in the template and would
// give the model a prompt its template does not describe. A model without a
// template gives [ErrNoChatTemplate]; [WithChatTemplate] then names a
// template, Jinja source or one of llama.cpp's built-in templates by name
// ([ChatML]), which llama.cpp renders.
//
// # Lifecycle and concurrency
//
// The contract, which the package's tests check (including a stress test of
// eight goroutines on one and on two models with hooks, cancellations and
// closes under the race detector):
//
//   - A [Model] is safe for concurrent use. A [Context] serves one goroutine
//     at a time; several contexts, on one model or several, run at once in
//     different goroutines. A [Sampler] and a [Batch] serve one goroutine.
//   - Every handle holding C memory has one release verb, Close, which is
//     safe on nil and to call twice. [Context.Close] may also be called from
//     any goroutine while the context works: the decode in progress stops
//     within one graph node, its call returns an error wrapping [ErrClosed],
//     and Close returns once it has (a hook must not close its own context).
//   - Close contexts and samplers before their model: [Model.Close] refuses
//     with an error while any is open, and a context or sampler counts as
//     open until its C memory is freed.
//   - After Close, every method that needs the C object returns an error
//     wrapping [ErrClosed]. Only accessors of fixed properties keep
//     answering: [Model.Path], [Context.Model], [Context.Size] and the
//     other sizes.
//   - A handle dropped without Close is reported on the [SetLogger] logger
//     once the garbage collector finds it: nothing in C or in the package's
//     globals keeps a handle reachable. The report is all that happens; the
//     C memory stays allocated.
//   - Errors are [*Error] values naming the operation, wrapping a sentinel
//     the caller can act on ([ErrClosed], [ErrKVCacheFull], [ErrKVEdit],
//     [ErrAttribution], ...), the context's error after a cancellation, or a
//     hook's error. KV cache edits return errors like everything else.
//
// # Files are checked before llama.cpp opens them
//
// llama.cpp aborts the process on some malformed files. [LoadModel] and
// [Quantize] first read the file (every part of a split model) with the
// pure-Go reader of package gguf, which checks the header, counts, lengths,
// types, shapes and offsets against the file's size. A corrupt, truncated or
// missing file is an error (errors.Is(err, gguf.ErrTruncated) and the like),
// never a crash. Token ids, batch sizes, sequence ids and logits indices are
// checked in Go for the same reason.
//
// # Decoding
//
// [Context.Decode] runs one [Batch]: tokens with positions, sequence ids and
// a flag asking for logits. Batches may mix sequences; [Context.GenerateBatch]
// uses that to decode many prompts as parallel sequences of one context, and
// the rlm package's local adapter uses it for batched sub-calls. Everything
// slow takes a [context.Context]: cancelling it stops a decode within one
// graph node through llama.cpp's abort callback, prompt processing included.
//
// # Hooks
//
// [Context.Observe] and [Context.Modify] register Go functions on nodes of the
// model's compute graph, by name or pattern ("l_out-*" is the residual stream
// after every layer; [Context.NodeNames] lists the real names). llama.cpp's
// eval callback hands each matching node's tensor to the hook after it is
// computed, as an [Activation]; values a Modify hook leaves in it are written
// back, and every later node sees them. Only hooked nodes are observed,
// because each one splits the graph's computation. A hook must not call
// methods of its own context (they return [ErrInCallback]). Package interp
// builds TransformerLens-style hook points, caches and patching on top of
// this.
//
// An activation's rows belong to the tokens of one micro-batch, in an order
// llama.cpp chooses; [Activation.Tokens] says which. The package predicts how
// llama.cpp splits a batch and checks the prediction on every micro-batch it
// computes under hooks, against the token ids, positions, KV streams and
// output rows llama.cpp actually feeds the graph: any disagreement fails the
// decode with [ErrAttribution], so rows are never silently credited to the
// wrong tokens.
//
// # Logging
//
// llama.cpp's and ggml's logs go to [SetLogger]'s slog.Logger, and nowhere
// by default. What llama.cpp logged as an error during a failed call is
// included in the returned [Error]: lines are tied to the call that was
// running on the thread that logged them, so calls in other goroutines never
// see each other's lines. A panic in any Go function llama.cpp calls back
// (hooks, the progress callback, the log handler) fails the call it happened
// in, as an error; it never unwinds through C.
//
// # CPU kernels
//
// cgo compiles the CPU kernels linked into this package with the build's
// CGO_CFLAGS, by default without AVX2, FMA or F16C, which makes them up to 30x
// slower. So when the package starts it loads ggml's CPU backend from a
// shared library instead: `go run github.com/go-rlm/rlm/cmd/rlm-kernels`
// (`make kernels` in a clone) builds one per x86-64 instruction-set level
// from the pinned sources, once per machine, into the user's cache
// directory, and the package loads the one ggml scores best for this CPU.
// $RLM_KERNELS names another directory (or "linked" for the linked-in
// kernels); a directory beside the executable is searched too. [CPUKernels]
// reports what runs. [LoadModel] refuses kernels that lack this CPU's
// AVX, AVX2, FMA or F16C with an error wrapping [ErrSlowKernels], unless
// [WithSlowKernels] or RLM_SLOW_KERNELS=1 accepts them.
//
// The libraries' threads meet at OpenMP barriers, where they poll briefly and
// then sleep ([OpenMPSpinCount]), so that with more threads than free cores
// (another process, or a controller and a worker busy at once) they give the
// cores to the threads they wait for instead of spinning.
//
// # GPUs
//
// The CPU backend is linked in. GPU backends are shared libraries loaded at
// run time with [LoadBackend] (`make cuda` builds ggml's CUDA backend from the
// same pinned sources); [Devices] lists what is available, and
// [WithDevices] or [WithMainGPU] pin a model to one device.
package llama
