package serve

import (
	"encoding/json"
	"net/http"
)

// The response bodies, in the shapes of OpenAI's Chat Completions API,
// with this server's "rlm" extension objects.

type chatCompletion struct {
	ID      string   `json:"id"`
	Object  string   `json:"object"`
	Created int64    `json:"created"`
	Model   string   `json:"model"`
	Choices []choice `json:"choices"`
	Usage   *usage   `json:"usage,omitempty"`
	RLM     any      `json:"rlm,omitempty"`
}

// choice is a choice of a completion (Message set) or of a chunk (Delta
// set). FinishReason is null until the last chunk.
type choice struct {
	Index        int            `json:"index"`
	Message      *assistantText `json:"message,omitempty"`
	Delta        *assistantText `json:"delta,omitempty"`
	FinishReason *string        `json:"finish_reason"`
	Logprobs     *struct{}      `json:"logprobs"`
}

type assistantText struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
	Refusal *string `json:"refusal,omitempty"`
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// RunInfo is the "rlm" object of a response, and of the last chunk of a
// stream: how the run went.
type RunInfo struct {
	// Stop says why the run stopped: "final" when the controller answered,
	// or the limit that ended it ("max_iterations", "sub_call_budget",
	// "controller_tokens", "worker_tokens", "time_limit"), in which case the
	// answer is the best the controller could give.
	Stop string `json:"stop"`
	// Final reports that the answer came from FINAL or FINAL_VAR.
	Final            bool `json:"final"`
	Iterations       int  `json:"iterations"`
	CodeBlocks       int  `json:"code_blocks"`
	CodeBlocksFailed int  `json:"code_blocks_failed"`
	SubCalls         int  `json:"sub_calls"`
	SubCallsFailed   int  `json:"sub_calls_failed"`
	// Usage splits the tokens of the response's "usage" by model.
	Usage ModelUsage `json:"usage"`
	// Seconds is the run's wall time; QueueSeconds the wait before it.
	Seconds      float64 `json:"seconds"`
	QueueSeconds float64 `json:"queue_seconds"`
	// Trajectory is the path (from the server's root) where the run's
	// trajectory is served as JSONL; add "/html" for the page.
	Trajectory string `json:"trajectory"`
}

// ModelUsage is the token usage of each model of a run.
type ModelUsage struct {
	Controller Usage `json:"controller"`
	Worker     Usage `json:"worker"`
}

// Usage counts one model's calls and tokens.
type Usage struct {
	Calls            int `json:"calls"`
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// Progress is the "rlm" object of a stream's progress chunks, whose choice
// has an empty delta: standard clients read no content from them.
type Progress struct {
	// Event is "queued" (Position is the place in the queue), "started",
	// "run_start" (a child RLM started), "iteration" (a controller reply was
	// handled), "code_block" or "sub_call".
	Event    string `json:"event"`
	Position int    `json:"position,omitempty"`
	// Run and Depth locate the event in the tree of runs: 0 is the root.
	Run   int `json:"run"`
	Depth int `json:"depth"`
	// Iteration is the controller reply the event belongs to.
	Iteration int `json:"iteration,omitempty"`
	// SubCall and Kind identify a sub-call; Error says why it failed.
	SubCall int64  `json:"sub_call,omitempty"`
	Kind    string `json:"kind,omitempty"`
	Error   string `json:"error,omitempty"`
	// Iterations, CodeBlocks and SubCalls count what the request has done
	// so far, child RLMs included.
	Iterations int `json:"iterations"`
	CodeBlocks int `json:"code_blocks"`
	SubCalls   int `json:"sub_calls"`
}

// errorBody is OpenAI's error shape, which the official clients turn into
// typed errors.
type errorBody struct {
	Error apiError `json:"error"`
}

type apiError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    string  `json:"code,omitempty"`
}

// writeJSON writes v as the body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client may be gone: nothing to do
}

// writeError writes an OpenAI-shaped error.
func writeError(w http.ResponseWriter, status int, typ, code, msg string) {
	writeJSON(w, status, errorBody{Error: apiError{Message: msg, Type: typ, Code: code}})
}

func ptr[T any](v T) *T { return &v }
