package main

import (
	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/oolong"
)

// Record is the result of one example: a line of the journal and a row of
// the Parquet table. It is a plain value, safe to share once built.
type Record struct {
	// Index is the example's place in the selection (after the filters,
	// -offset and -n, before sharding): merged shards sort by it, so that
	// their table has the order of an unsharded run.
	Index           int    `json:"index"`
	ID              string `json:"id"`
	ContextWindowID string `json:"context_window_id"`
	Campaign        string `json:"campaign"`
	QuestionType    string `json:"question_type"`
	Episodes        []int  `json:"episodes"`
	Question        string `json:"question"`
	// ContextChars is the context window's length in characters (Unicode
	// code points, as Python's len counts them); ContextTokens in tokens of
	// the worker's tokenizer, which the selection counts.
	ContextChars  int    `json:"context_chars"`
	ContextTokens int    `json:"context_tokens"`
	Gold          string `json:"gold"`

	// Answer is the RLM's final answer as the controller gave it. Score is
	// its official OOLONG-real score (oolong.Score of the answer as it is);
	// LenientScore is ours (oolong.LenientScore: an answer without a box
	// read as if boxed), the same rule as the baseline's.
	Answer       string  `json:"answer"`
	Score        float64 `json:"score"`
	LenientScore float64 `json:"lenient_score"`
	// Final reports that the answer came from FINAL or FINAL_VAR.
	Final bool `json:"final"`
	// Stop is the run's stop reason ("final", "max_iterations", ...).
	Stop string `json:"stop"`
	// Error is the error the run ended with, if any; the example then
	// scores 0, as the official evaluation scores a failed request.
	Error string `json:"error,omitempty"`

	Iterations     int `json:"iterations"`
	SubCalls       int `json:"sub_calls"`
	SubCallsFailed int `json:"sub_calls_failed"`
	// SubCallCacheHits counts the sub-calls answered from the memo of the
	// worker's answers (-share), without the worker.
	SubCallCacheHits           int `json:"sub_call_cache_hits"`
	CodeBlocks                 int `json:"code_blocks"`
	CodeBlocksFailed           int `json:"code_blocks_failed"`
	ControllerPromptTokens     int `json:"controller_prompt_tokens"`
	ControllerCompletionTokens int `json:"controller_completion_tokens"`
	// ControllerCachedTokens counts the controller's prompt tokens it held
	// from an earlier call (a reused prompt prefix) and did not read again.
	ControllerCachedTokens int `json:"controller_cached_tokens"`
	WorkerPromptTokens     int `json:"worker_prompt_tokens"`
	WorkerCompletionTokens int `json:"worker_completion_tokens"`
	// Seconds is the wall time of the RLM run.
	Seconds float64 `json:"seconds"`
	// Trajectory is the path of the run's JSONL trajectory, relative to
	// the directory that holds the journal.
	Trajectory string `json:"trajectory"`

	// Baseline is the worker's own answer; nil unless the run was made
	// with -baseline.
	Baseline *BaselineRecord `json:"baseline,omitempty"`
}

// BaselineRecord is the result of asking the worker alone, as the official
// evaluation asks a plain model. It is a plain value.
type BaselineRecord struct {
	// Excluded says why the worker was not asked: the window does not fit
	// its context (with -baseline-fit exclude). An excluded baseline has no
	// answer and no score, and is left out of the baseline's accuracy.
	Excluded string `json:"excluded,omitempty"`
	Answer   string `json:"answer"`
	// Score and LenientScore are scored as the RLM's are.
	Score        float64 `json:"score"`
	LenientScore float64 `json:"lenient_score"`
	// ContextChars is the length of the context the worker was given, in
	// characters: the window, or with -baseline-fit truncate the window
	// cut to fit the worker's context (Truncated).
	ContextChars     int     `json:"context_chars"`
	Truncated        bool    `json:"truncated"`
	PromptTokens     int     `json:"prompt_tokens"`
	CompletionTokens int     `json:"completion_tokens"`
	Seconds          float64 `json:"seconds"`
	Error            string  `json:"error,omitempty"`
}

// failure says why the example ended in an error rather than an answer,
// or is "" when it did not.
func (r *Record) failure() string {
	switch {
	case r.Error != "":
		return r.Error
	case r.Baseline != nil && r.Baseline.Error != "":
		return "baseline: " + r.Baseline.Error
	}
	return ""
}

// answered reports whether the baseline has an answer to score: it was
// neither excluded nor failed.
func (b *BaselineRecord) answered() bool { return b != nil && b.Excluded == "" && b.Error == "" }

// newRecord fills the fields that describe the example itself.
func newRecord(index int, e oolong.Example, length windowLength) Record {
	return Record{
		Index:           index,
		ID:              e.ID,
		ContextWindowID: e.ContextWindowID,
		Campaign:        e.Campaign,
		QuestionType:    string(e.QuestionType),
		Episodes:        e.Episodes,
		Question:        e.Question,
		ContextChars:    length.Chars,
		ContextTokens:   length.Tokens,
		Gold:            e.Answer,
	}
}

// setResult fills the fields that describe the RLM's run and scores its
// answer.
func (r *Record) setResult(res rlm.Result, runErr error) {
	r.Answer = res.Answer
	r.Final = res.Final
	r.Stop = res.Stop.String()
	if res.Stop == 0 {
		r.Stop = ""
	}
	if runErr != nil {
		r.Error = runErr.Error()
	}
	s := res.Stats
	r.Iterations = s.Iterations
	r.SubCalls, r.SubCallsFailed, r.SubCallCacheHits = s.SubCalls, s.SubCallsFailed, s.SubCallCacheHits
	r.ControllerCachedTokens = s.Controller.CachedPromptTokens
	r.CodeBlocks, r.CodeBlocksFailed = s.CodeBlocks, s.CodeBlocksFailed
	r.ControllerPromptTokens, r.ControllerCompletionTokens = s.Controller.PromptTokens, s.Controller.CompletionTokens
	r.WorkerPromptTokens, r.WorkerCompletionTokens = s.Worker.PromptTokens, s.Worker.CompletionTokens
	if runErr == nil {
		r.Score, r.LenientScore = score(r.Gold, res.Answer)
	}
}

// score is how both the RLM's answer and the baseline's output are scored:
// the official score of the text as it is (the official evaluation scores
// a plain model's whole output, and an RLM's answer is its output), and
// ours beside it, the same lenient rule for both (oolong.LenientScore).
func score(gold, output string) (official, lenient float64) {
	return oolong.Score(gold, output), oolong.LenientScore(gold, output)
}
