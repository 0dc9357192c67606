// Package rlm runs Recursive Language Models (RLMs): a controller model
// answers a question about a document far larger than its context window
// without ever reading it. The controller writes Python that runs in a REPL
// holding the document; that code asks a worker model about chunks and
// combines the answers.
//
// # Models
//
// The engine talks to models through [LM], a one-method interface (chat
// messages in, a [Completion] out), and imports no adapter. A model that
// can decode many conversations at once implements [BatchLM] as well, and
// batched sub-calls then reach it as one call; one that knows its context
// and batch size implements [LimitedLM], and the prompt states them.
// Adapters live elsewhere: the local package for models loaded in process,
// the openai package for OpenAI-compatible servers, the rlmtest package
// for scripted models in tests.
//
// # Running
//
// [New] takes the controller, the worker and options; [WithWorker] adds
// more workers by name (a small model for easy chunks, a larger or remote
// one for hard ones). [RLM.Run] answers a question about a document and
// returns a [Result]. The controller is told the document's length and
// shape, the question, and its budgets: replies, sub-calls, the chunk size
// that fits the worker's context, the batch the worker decodes at once,
// and after each step what is left. It replies with ```repl blocks
// (```python, ```py, ```py3 and untagged fences run too), which run in
// order in one persistent REPL. What they print, and as in a notebook the
// value of a last line that is an expression, cut at [WithOutputCap], is
// the next message.
//
// The REPL holds these names, and puts them back when code rebinds them
// (answer only under ProtocolAnswer):
//
//	context, prompt, context_0    the document (context_0, context_1, ... in a Session)
//	question                      the question
//	history                       in a Session: the questions answered before, as dicts
//	                              with "question", "answer", "final" and "stop"
//	sub_call(chunk, query)        the worker answers query from chunk alone; a list
//	                              of chunks gives a list of answers
//	llm_query(prompt)             the worker answers prompt
//	llm_query_batched(prompts)    many prompts at once, answers in order
//	rlm_query(text, query)        a child RLM over text (see WithMaxDepth); at the
//	                              last depth, a worker call
//	rlm_query_batched(texts, query)  a child RLM per text, in parallel, answers in order
//	llm_query_async(prompt)       starts llm_query in the background: a SubCallHandle
//	sub_call_async(chunk, query)  starts sub_call in the background: a handle, or a
//	                              list of handles for a list of chunks
//	handle.result(timeout=None)   waits for the answer; handle.done(), handle.cancel()
//	wait_all(handles, timeout=None)  waits for many, answers in order
//	SHOW_VARS()                   prints the variables defined so far
//	answer                        the answer dict (ProtocolAnswer): set
//	                              answer["content"], then answer["ready"] = True
//	FINAL(answer)                 submits str(answer) (ProtocolFinal)
//	FINAL_VAR(x)                  submits str() of a variable, by name or by value
//
// Every function that calls a worker takes model="name" to choose one; an
// unknown name raises an exception the controller sees. A sub-call that
// fails returns a str that starts with "Error:"; the other items of a batch
// are unaffected.
//
// # Final answers
//
// [WithProtocol] chooses the protocol the system prompt teaches; both are
// accepted whichever is taught, since models trained with either harness
// speak their own:
//
//   - [ProtocolAnswer], the default and the one the reference
//     implementation (alexzhang13/rlm) teaches since 2026: code sets
//     answer["content"] and then answer["ready"] = True, and the run ends
//     after that block with str(answer["content"]) as it is then.
//   - [ProtocolFinal], the RLM paper's: FINAL(answer) and FINAL_VAR(x) as
//     functions, or written as text at the start of a line of prose
//     (**FINAL(x)** and `FINAL(x)` too). A FINAL written as text in the
//     same reply as code counts only if that code raised no exception.
//
// # Sessions
//
// [RLM.NewSession] binds one or more documents in one REPL, once, and
// [Session.Ask] answers questions about them one after another, each with
// its own conversation, budgets, [Result] and trajectory, while the
// variables the code defined stay for the next question beside a
// `history`, unless [WithIndependentQuestions] makes each question start
// as if alone. A REPL that dies between questions is restarted with the
// documents bound again. [WithTaskPreamble] and [WithDocumentHeader] tell
// the controller what holds for every question of a task; a
// [SubCallCache] ([WithSubCallCache]) answers repeated worker calls from
// memory, within a run and, persisted by the caller, across restarts.
//
// # Asynchronous sub-calls
//
// llm_query_async and sub_call_async start worker calls that run while the
// code goes on. They spend the same budgets, go through the same cache and
// produce the same events ([SubCallEvent.Async]) as the synchronous calls,
// at most [WithConcurrency] at a time, and a batching worker sees them as
// concurrent calls: the local adapter decodes whatever is in flight
// together. handle.cancel() stops one. When a run ends, calls still in
// flight are cancelled and waited for: no goroutine outlives [RLM.Run].
//
// # Failure modes
//
// The engine handles the ways controllers are known to go wrong:
//
//   - An answer submitted in the same reply as code that has not run yet:
//     the code runs first; a text FINAL then counts only if the code raised
//     nothing, and an answer submitted by code ends the reply there.
//   - A reply with neither code nor an answer: the controller is told so.
//   - Code that rebinds `context`, `llm_query` or another reserved name:
//     the REPL puts it back after the block, and the controller is told.
//     Under ProtocolAnswer, an `answer` replaced by something that is not
//     a dict is put back too.
//   - A bare expression on a cell's last line: shown, not lost.
//   - Budgets ([WithSubCallBudget], [WithControllerTokenBudget],
//     [WithWorkerTokenBudget], [WithTimeLimit]) running out, and the last
//     iteration passing without a final answer: the controller is asked
//     once more for an answer, and Run returns a Result with the
//     [StopReason], not an error.
//   - A conversation nearing [WithControllerContext]: the controller
//     writes a summary that replaces its older turns ([WithCompaction]);
//     if that fails, or the conversation still does not fit, old outputs
//     and replies are shortened, never the system prompt or the question.
//   - Cancellation: Run returns promptly with an error wrapping ctx.Err(),
//     the REPL closed and no goroutine left behind.
//
// # Observing a run
//
// An [Observer] gets an event for each run start, iteration, code block,
// sub-call, compaction and run end. Each sub-call has an ID, which is also
// in the context the worker's Complete receives ([SubCallFromContext],
// [SubCallsFromContext] for a batch), so an LM wrapper can attribute what
// it sees, such as activations, to the sub-call, its worker and the chunk
// of the document ([SubCallInfo.Offset]) it belongs to.
//
// # Trajectories
//
// A [TrajectoryWriter] ([WithTrajectory]) writes every event as a line of
// JSONL as it happens; a [Trajectory] collects them in memory.
// [ReadTrajectory] reads the JSONL back into the same Go types, and
// [Trajectory.WriteHTML] renders a run as a self-contained page: the
// conversation, with each step's code, outputs and sub-calls folded under
// it, compactions where they happened with the messages they replaced, and
// child RLMs nested under the call that started them.
//
// # Concurrency
//
// An [RLM] is safe for concurrent use; each Run has its own REPL, budgets
// and statistics. A [Session] answers one question at a time. Observers
// are called one event at a time within a Run. [TrajectoryWriter],
// [Trajectory] and [MemoryCache] are safe for concurrent use. The message,
// completion, event and result types are plain values, safe to share once
// no one modifies them.
package rlm
