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
// batched sub-calls then reach it as one call. Adapters live elsewhere: the
// openai package for OpenAI-compatible servers, the rlmtest package for
// scripted models in tests.
//
// # Running
//
// [New] takes the controller, the worker and options; [RLM.Run] answers a
// question about a document and returns a [Result]. The controller is told
// the document's length and shape and the question. It replies with
// ```repl blocks (```python is read too), which run in order in one
// persistent REPL where the document is `context` (and `prompt`) and the
// question is `question`; what they print, cut at [WithOutputCap], is the
// next message. The code reaches the models through host functions:
//
//	sub_call(chunk, query)      the worker answers query from chunk alone;
//	                            a list of chunks gives a list of answers
//	llm_query(prompt)           the worker answers prompt
//	llm_query_batched(prompts)  many prompts at once, answers in order
//	rlm_query(text, query)      a child RLM over text (see [WithMaxDepth])
//	FINAL(answer)               ends the run with answer
//	FINAL_VAR(name)             ends the run with the variable's value
//	SHOW_VARS()                 prints the variables defined so far
//
// FINAL(...) and FINAL_VAR(...) also count when the controller writes them
// as text on a line of their own. Batched sub-calls go to a [BatchLM] as
// batches of at most [WithConcurrency] conversations, or else run that many
// at a time; answers come back in order.
//
// # Failure modes
//
// The engine handles the ways controllers are known to go wrong:
//
//   - A FINAL written as text in the same reply as code: the code runs
//     first, and the FINAL counts only if that code raised no exception
//     (FINAL_VAR then reads the variable the code just set).
//   - A reply with neither code nor FINAL: the controller is told so.
//   - Code that rebinds `context`, `llm_query` or another reserved name:
//     the REPL puts it back after the block, and the controller is told.
//   - A sub-call that fails: Python gets a str that starts with "Error:";
//     the other items of a batch are unaffected.
//   - Budgets ([WithSubCallBudget], [WithControllerTokenBudget],
//     [WithWorkerTokenBudget], [WithTimeLimit]) running out, and the last
//     iteration passing without a final answer: the controller is asked
//     once more for an answer, and Run returns a Result with the
//     [StopReason], not an error.
//   - A conversation outgrowing [WithControllerContext]: old outputs and
//     replies are shortened, never the system prompt or the question.
//   - Cancellation: Run returns promptly with an error wrapping ctx.Err(),
//     the REPL closed and no goroutine left behind.
//
// # Observing a run
//
// An [Observer] gets an event for each run start, iteration, code block,
// sub-call and run end. Each sub-call has an ID, which is also in the
// context the worker's Complete receives ([SubCallFromContext],
// [SubCallsFromContext] for a batch), so an LM wrapper can attribute what
// it sees, such as activations, to the sub-call and the chunk of the
// document ([SubCallInfo.Offset]) it belongs to.
//
// # Trajectories
//
// A [TrajectoryWriter] ([WithTrajectory]) writes every event as a line of
// JSONL as it happens; a [Trajectory] collects them in memory.
// [ReadTrajectory] reads the JSONL back into the same Go types, and
// [Trajectory.WriteHTML] renders a run as a self-contained page: the
// conversation, with each step's code, outputs and sub-calls folded under
// it and child RLMs nested under the call that started them.
//
// # Concurrency
//
// An [RLM] is safe for concurrent use; each Run has its own REPL, budgets
// and statistics. Observers are called one event at a time within a Run.
// [TrajectoryWriter] and [Trajectory] are safe for concurrent use. The
// message, completion, event and result types are plain values, safe to
// share once no one modifies them.
package rlm
