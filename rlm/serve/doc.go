// Package serve puts Recursive Language Models behind OpenAI's Chat
// Completions API, so that any client of that API (the official openai
// packages, curl, chat front ends) can use an RLM as if it were a model.
// Each model name is an RLM: a controller, a worker and engine options
// ([Model]). The package imports only the rlm engine and the standard
// library; a command wires in local models (examples/serve does, with
// rlm/local).
//
//	srv, err := serve.New([]serve.Model{{Name: "rlm", Controller: controller, Worker: worker}},
//		serve.WithMaxRuns(8), serve.WithTokens(tokens...))
//	...
//	l, err := net.Listen("tcp", "127.0.0.1:8080")
//	...
//	err = srv.Serve(ctx, l) // until ctx ends, then a graceful shutdown
//
// # Endpoints
//
//	POST /v1/chat/completions        answer a question about a document
//	GET  /v1/models                  the model names
//	GET  /v1/models/{model}          one of them
//	GET  /v1/trajectories/{id}       a run's trajectory, as JSONL (rlm.ReadTrajectory reads it)
//	GET  /v1/trajectories/{id}/html  the same as a self-contained HTML page
//
// Errors have OpenAI's shape ({"error": {"message", "type", "code"}}), so
// the official clients raise their typed errors (BadRequestError,
// AuthenticationError, NotFoundError, RateLimitError). Errors that a retry
// would not mend carry X-Should-Retry: false, which those clients obey.
//
// # The document and the question
//
// The last message must be the user's, and its text is the question, of
// at most 8,000 characters: the controller reads it whole.
// Everything before it is the document: the system, user, assistant and
// tool messages in order, then any files attached to the last message as
// "file" content parts (file_data, a base64 data URL of a UTF-8 text
// file). When that is one piece, the document is that piece verbatim;
// several are joined by blank lines, each starting with a line naming it:
// "[system]", "[user]", "[file: notes.txt]".
//
// This is what unmodified clients already send. A chat front end puts the
// pasted transcript in one message and the question in the next; an
// application that stuffs retrieved context into the system prompt gets it
// read; a file attached to the question becomes the document; a
// conversation that goes on makes the earlier turns part of what is read.
// Nothing the client sent is dropped, and the common case of one pasted
// text keeps its bytes, so sub-call offsets in the trajectory point into
// the text the client sent. The question goes to the controller, which
// sees only the document's size and shape, never its text.
//
// Sampling fields (temperature, max_tokens, seed, ...) are accepted and
// ignored: sampling belongs to the models' adapters, which the server was
// configured with. n must be 1, and tools are refused: an RLM answers with
// text.
//
// # Responses
//
// A response is a chat.completion whose message content is the RLM's
// answer. finish_reason is "stop" when the controller gave a final answer
// and "length" when a limit (iterations, a budget, the time limit) ended
// the run, whose answer is then the best the controller could give.
// usage adds up both models' tokens; the "rlm" extension object
// ([RunInfo]) splits them by model, gives the precise stop reason, the
// iterations, code blocks and sub-calls, and the path of the trajectory.
// The response's id names the trajectory: GET /v1/trajectories/{id}.
// Trajectories are kept for the latest runs ([WithTrajectories]) and can be
// fetched while their run goes on.
//
// # Streaming
//
// With "stream": true the answer comes as Server-Sent Events in the Chat
// Completions chunk format. The first chunk names the role; progress
// chunks follow as the run goes: their one choice has an empty delta,
// which clients read as no content, and their "rlm" object ([Progress])
// says what happened ("queued", "started", "iteration", "code_block",
// "sub_call", "run_start" of a child RLM) with running totals. Then a chunk
// carries the answer as content, the last chunk the finish reason and the
// [RunInfo], a usage chunk follows when stream_options.include_usage asks
// for it, and "data: [DONE]" ends the stream. An SSE comment every
// [WithHeartbeat] keeps idle connections open through proxies. A run that
// fails mid-stream ends with an {"error": ...} event, which the official
// clients raise.
//
// # Limits and many users
//
// Requests to all models share their adapters: an adapter that batches
// concurrent calls, such as rlm/local's, decodes the sub-calls of different
// requests in the same forward passes. At most [WithMaxRuns] runs go on at
// once; up to [WithQueue] more requests wait, first come first served,
// and a request that finds the queue full gets 429 with Retry-After (an
// estimate from recent run times). Every run is bounded by the server's
// [Limits]; a request may lower them for itself with an "rlm" object in
// its body ([RequestOptions]; extra_body in OpenAI's Python client), never
// raise them. A client that disconnects cancels its run: the controller's
// and the worker's calls in flight stop and the run's REPL is closed.
//
// # Security
//
// The server trusts nothing it is sent. With [WithTokens], every endpoint
// needs one of the bearer tokens, and a trajectory is served only to the
// token that made it (to others it does not exist). Without tokens any
// caller is served and a trajectory's ID, 128 random bits, is what guards
// it: bind to loopback then (examples/serve does by default). Request
// bodies are capped ([WithMaxRequestBytes]). Every run's code executes in
// the repl package's sandbox with its default limits: the server adds no
// REPL option of its own, so only a model's options (rlm.WithREPLOptions)
// change them.
//
// # Shutdown
//
// [Server.Serve] shuts down when its context ends: it stops accepting
// connections, answers queued requests 503, lets the runs in flight finish
// for the grace period ([WithShutdownGrace]), then cancels the rest (their
// clients get 503, or an error event when streaming) and returns once
// every client has been answered. [Server.Shutdown] does the part about
// runs for a server run by an http.Server of the caller's.
//
// # Concurrency
//
// A [Server] is safe for concurrent use, and so must be the models'
// adapters.
package serve
