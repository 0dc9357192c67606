// Package openai is an [rlm.LM] for servers that speak OpenAI's chat
// completions protocol: llama.cpp's server, vLLM, OpenAI itself.
//
// # Configuration
//
// [New] takes the model name and options. The base URL and the API key come
// from [WithBaseURL] and [WithAPIKey], else from the OPENAI_BASE_URL and
// OPENAI_API_KEY environment variables; the base URL defaults to
// [DefaultBaseURL]. A local server needs no key.
//
// # Errors and retries
//
// A 429, a 5xx, a network error or an attempt's timeout ([WithTimeout]) is
// retried with exponential backoff and jitter ([WithRetries],
// [WithBackoff]), honouring the server's Retry-After. Other responses fail
// at once with an [*APIError] that errors.As finds, carrying the status
// and the server's message. Cancelling the context stops at once, between
// retries too, with an error that wraps the context's.
//
// # Concurrency
//
// A [Client] is safe for concurrent use: the rlm engine calls it from
// several goroutines when sub-calls run in parallel.
package openai
