// Package local adapts a model loaded in process with package llama to the
// rlm engine's [rlm.LM] and [rlm.BatchLM] interfaces.
//
// An [LM] owns one llama.cpp context with several sequences and one
// goroutine that decodes on it. Requests wait in a queue; the goroutine takes
// what is queued and answers it as parallel sequences of one batched decode
// ([llama.Context.GenerateBatch]), so concurrent sub-calls share every
// forward pass instead of taking turns or each holding a context of its own.
// A [rlm.BatchLM.CompleteBatch] call (llm_query_batched) goes in as one group.
//
//	worker, err := llama.LoadModel(ctx, "qwen2.5-7b-instruct-f16.gguf", llama.WithMainGPU(1))
//	...
//	lm, err := local.New(worker, local.WithSequences(8), local.WithSequenceSize(16384))
//	...
//	defer lm.Close()
//	engine, err := rlm.New(controllerLM, lm)
//
// # Conversations
//
// Messages are rendered with the model's chat template and tokenized once,
// by [llama.Model.TokenizeChat]: only the template's own text can become
// control tokens, so a document that contains "<|im_end|>" cannot end the
// worker's turn or open a new one. A model without a template needs
// llama.WithChatTemplate(llama.ChatML) at load time. A conversation that does
// not fit one sequence fails alone, with an error that says by how much, so
// that the controller can choose smaller chunks.
//
// # What the engine learns of it
//
// An [LM] reports its limits ([LM.Limits]: the sequence size, the longest
// reply, the sequences decoded at once), which the engine states in the
// controller's prompt and uses to size the controller's conversation; a
// fingerprint of the model file and sampling settings ([LM.Fingerprint])
// for rlm.WithSubCallCache; and, per completion, how many prompt tokens it
// reused from the sequence's cache instead of decoding them again.
//
// # Observing the worker
//
// [WithGenerationHook] runs a function on the decoding goroutine around each
// batched generation, with the llama context and the sub-call each prompt
// answers: package interp hangs its per-sub-call activation tracing on it.
// Hooks registered on the context see each token's prompt index in
// llama.TokenRef.Tag.
package local
