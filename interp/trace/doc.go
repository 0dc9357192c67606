// Package trace records a worker model's activations across the sub-calls
// of a Recursive Language Model, so that one can study how information
// flows through sub_call() boundaries: for every sub-call the engine makes,
// the chosen hook points at the chosen positions, with the sub-call's depth,
// chunk offset, query and answer, in one Parquet file per run. It also
// re-runs a recorded sub-call with an activation changed, to see how its
// answer moves.
//
// # Tracing a run
//
// A [Tracer] plugs into two places: the local worker's generation hook,
// where it observes the llama.cpp graph while the worker decodes, and the
// engine's observer, where it learns when runs start and end and what each
// sub-call answered.
//
//	tr, err := trace.New("traces", trace.WithHooks("blocks.*.hook_resid_post"))
//	...
//	worker, err := local.New(workerModel, local.WithGenerationHook(tr.GenerationHook()))
//	...
//	engine, err := rlm.New(controller, worker, rlm.WithObserver(tr.Observer()))
//	...
//	res, err := engine.Run(ctx, document, question)
//	...
//	err = tr.Close() // traces/run-001.parquet
//
// Hook points are named as package interp names them (TransformerLens
// names such as "blocks.3.hook_resid_post", raw llama.cpp nodes such as
// "l_out-3", or path.Match patterns over either); derived points such as
// hook_attn_out are computed as interp computes them. [WithLayers] keeps some
// layers, [WithPositions] chooses among the last prompt token ([PromptLast]:
// the state that chose the answer's first token), the answer's tokens as
// they are read back ([Generated]) and every prompt token ([Prompt]).
//
// # Attribution
//
// The local worker decodes concurrent sub-calls as parallel sequences of
// one batch. Its generation hook hands the tracer the sub-call each prompt
// answers, and every token of the batch carries its prompt's index
// (llama.TokenRef.Tag), so each activation row goes to its sub-call
// whatever the batch holds. The hook also hands over each prompt's tokens,
// the very ids the worker decodes (its chat template's text parsed for
// control tokens, the sub-call's chunk and query as plain text), so the
// tracer knows the whole prompt and where its last token is without
// tokenizing anything again. Package llama keeps the start of a prompt in the cache when the
// sequence's previous prompt began the same way (the worker's system
// prompt) and decodes only the rest: positions kept in the cache that way
// are not computed again and have no rows, even with [Prompt].
//
// # One file per run, written as answers arrive
//
// A sub-call's answer is known only when the engine reports it, after the
// worker has decoded it. The tracer holds each sub-call's rows in memory
// until then and writes them all at once, with the answer in every row:
// the file needs no second pass or join, and memory holds only the rows of
// sub-calls in flight (at most the worker's batch: rows × width × 4 bytes
// each). The Parquet writer itself streams row groups (package export), so
// a run of any length keeps memory flat. Child RLMs (rlm_query at depth 2)
// write into their root run's file. Files are named PREFIX-NNN.parquet
// ([WithPrefix]) with the first number not yet taken in the directory.
//
// # Columns
//
// Package export's columns, then the sub-call's:
//
//	run               the file's name without .parquet ("run-001")
//	hook, layer       the hook point's name and layer
//	sequence          the sub-call's ID (rlm.SubCallInfo.ID), unique within the run
//	position          the token's position in the worker's sequence
//	token_id          the token there (a generated row: the answer's token read back)
//	token_text        its text
//	values            the activation (FLOAT[]; one width per file when every hook point shares it)
//	rlm_run           the RLM run that made the call: 0 the root, child RLMs from 1
//	depth             1 for the root's sub-calls, 2 for a child RLM's
//	kind              sub_call, llm_query, llm_query_batched or rlm_query
//	model             the named worker that answered (rlm.WithWorker), null for the default one
//	document          which of the run's documents holds the chunk (a session's context_N), 0 for a run's
//	chunk_offset      where the chunk starts in that document (bytes), -1 if not a slice of it
//	chunk_length      the chunk's length in bytes
//	query             the question asked about the chunk
//	answer            the worker's answer
//	error             why the sub-call failed, null when it did not
//	iteration, block  the controller iteration and code block that made the call
//	position_kind     prompt_last, generated or prompt
//	prompt_tokens     the prompt's length in tokens
//	prompt            the prompt as the worker read it, chat template applied
//	prompt_token_ids  the prompt's token ids, space-separated
//
// In DuckDB, the residual stream of the last prompt token of every chunk:
//
//	SELECT sequence, chunk_offset, layer, values
//	FROM 'traces/run-001.parquet'
//	WHERE position_kind = 'prompt_last' ORDER BY sequence, layer;
//
// # Patching a sub-call
//
// [PatchSubCall] re-runs a recorded sub-call ([Tracer.SubCalls], or
// [ReadSubCalls] from a file) on the worker model, once as it was and once
// with interp patches applied, and reports both answers and the
// log-probability of the original answer under each:
//
//	sc := tr.SubCalls()[0]
//	res, err := trace.PatchSubCall(ctx, workerModel, sc, []interp.Patch{
//		interp.Zero(interp.ActName("resid_post", 2), interp.AtPositions(sc.PromptLast())),
//	}, trace.WithSampling(workerSampling), trace.WithMaxTokens(workerMaxTokens))
//	fmt.Println(res) // sub-call 1, zero blocks.2.hook_resid_post at [460]: "99" → "54" (...)
//
// # Cost
//
// The tracer observes the traced nodes during the generations that serve
// sub-calls of a run, and nothing during the others (a controller's turns
// on the same model, calls outside a run). Each observed node splits
// llama.cpp's graph computation, so trace what you need. Rows are copied out
// of the graph as float32; each sub-call's prompt is tokenized once more.
//
// # Concurrency
//
// A [Tracer] is safe for concurrent use by the goroutines of the run it
// follows and of the worker; it follows one RLM.Run at a time, since
// sub-call ids are unique only within a run.
package trace
