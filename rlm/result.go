package rlm

import (
	"fmt"
	"maps"
	"time"
)

// StopReason says why a run stopped.
type StopReason int

// The reasons a run stops. Only StopFinal means the controller finished on
// its own; the others come with whatever answer could still be had.
const (
	// StopFinal: the controller gave a final answer.
	StopFinal StopReason = iota + 1
	// StopMaxIterations: the iterations ran out; the controller was asked
	// once more for an answer.
	StopMaxIterations
	// StopSubCallBudget: the sub-call budget ran out.
	StopSubCallBudget
	// StopControllerTokens: the controller's token budget ran out.
	StopControllerTokens
	// StopWorkerTokens: the worker's token budget ran out.
	StopWorkerTokens
	// StopTimeLimit: the run's wall-time limit passed.
	StopTimeLimit
	// StopCancelled: the caller's context was done; [RLM.Run] also returns
	// an error.
	StopCancelled
	// StopError: the controller or the REPL failed; [RLM.Run] also returns
	// an error.
	StopError
)

var stopReasonNames = map[StopReason]string{
	StopFinal:            "final",
	StopMaxIterations:    "max_iterations",
	StopSubCallBudget:    "sub_call_budget",
	StopControllerTokens: "controller_tokens",
	StopWorkerTokens:     "worker_tokens",
	StopTimeLimit:        "time_limit",
	StopCancelled:        "cancelled",
	StopError:            "error",
}

// String returns the reason's snake_case name, as trajectories store it.
func (r StopReason) String() string {
	if name, ok := stopReasonNames[r]; ok {
		return name
	}
	return fmt.Sprintf("StopReason(%d)", int(r))
}

// MarshalText encodes the reason as its name.
func (r StopReason) MarshalText() ([]byte, error) {
	if r == 0 {
		return []byte(""), nil
	}
	if _, ok := stopReasonNames[r]; !ok {
		return nil, fmt.Errorf("rlm: marshal stop reason: unknown value %d", int(r))
	}
	return []byte(r.String()), nil
}

// UnmarshalText decodes a name written by MarshalText.
func (r *StopReason) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*r = 0
		return nil
	}
	for reason, name := range stopReasonNames {
		if name == string(text) {
			*r = reason
			return nil
		}
	}
	return fmt.Errorf("rlm: unmarshal stop reason: unknown name %q", text)
}

// budgetStop reports whether the reason is a budget running out.
func (r StopReason) budgetStop() bool {
	switch r {
	case StopSubCallBudget, StopControllerTokens, StopWorkerTokens, StopTimeLimit:
		return true
	}
	return false
}

// Result is the outcome of [RLM.Run].
type Result struct {
	// Answer is the final answer, or when the run stopped without one, the
	// controller's last reply to the request for one (possibly empty).
	Answer string `json:"answer"`
	// Final reports that Answer came from FINAL or FINAL_VAR.
	Final bool `json:"final"`
	// Stop says why the run stopped.
	Stop StopReason `json:"stop"`
	// Stats describe the whole run, child RLMs included.
	Stats Stats `json:"stats"`
}

// Stats count what a run did. They cover the root run and all its child
// RLMs.
type Stats struct {
	// Runs counts the root run and its child RLMs.
	Runs int `json:"runs"`
	// Iterations counts controller replies, the extra request for an
	// answer after the last iteration included.
	Iterations int `json:"iterations"`
	// CodeBlocks counts the code blocks run; CodeBlocksFailed those that
	// raised a Python exception.
	CodeBlocks       int `json:"code_blocks"`
	CodeBlocksFailed int `json:"code_blocks_failed"`
	// SubCalls counts worker calls and child RLMs; SubCallsFailed those that
	// returned an error string to Python.
	SubCalls       int `json:"sub_calls"`
	SubCallsFailed int `json:"sub_calls_failed"`
	// SubCallsByDepth counts sub-calls by their [SubCallInfo.Depth].
	SubCallsByDepth map[int]int `json:"sub_calls_by_depth,omitempty"`
	// SubCallsAsync counts the sub-calls started by llm_query_async and
	// sub_call_async; SubCallCacheHits those answered by the sub-call cache
	// ([WithSubCallCache]), which the budgets do not count.
	SubCallsAsync    int `json:"sub_calls_async,omitempty"`
	SubCallCacheHits int `json:"sub_call_cache_hits,omitempty"`
	// Controller and Worker count each model's calls and tokens; Workers
	// splits Worker by the workers' names.
	Controller Usage            `json:"controller"`
	Worker     Usage            `json:"worker"`
	Workers    map[string]Usage `json:"workers,omitempty"`
	// Compactions counts the summaries that replaced the controller's
	// conversation; CompactionsFailed the attempts that failed, after which
	// it was shortened instead.
	Compactions       int `json:"compactions,omitempty"`
	CompactionsFailed int `json:"compactions_failed,omitempty"`
	// REPLStarts counts the Python processes started for the run (one, or
	// none for a session's question unless its REPL had to be restarted),
	// and DocumentsBound the documents sent to them.
	REPLStarts     int `json:"repl_starts"`
	DocumentsBound int `json:"documents_bound"`
	// Time splits the run's wall time.
	Time Timing `json:"time"`
}

// CodeSuccessRate is the fraction of code blocks that ran without an
// exception, or 0 when none ran.
func (s Stats) CodeSuccessRate() float64 {
	if s.CodeBlocks == 0 {
		return 0
	}
	return float64(s.CodeBlocks-s.CodeBlocksFailed) / float64(s.CodeBlocks)
}

// Usage counts one model's calls and tokens.
type Usage struct {
	Calls            int `json:"calls"`
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	// CachedPromptTokens counts the prompt tokens the model reused from
	// earlier calls instead of reading them again, when it reports them.
	CachedPromptTokens int `json:"cached_prompt_tokens,omitempty"`
}

// Tokens is the sum of prompt and completion tokens, the quantity token
// budgets limit.
func (u Usage) Tokens() int { return u.PromptTokens + u.CompletionTokens }

func (u *Usage) add(c Completion) {
	u.Calls++
	u.PromptTokens += c.PromptTokens
	u.CompletionTokens += c.CompletionTokens
	u.CachedPromptTokens += c.CachedPromptTokens
}

// Timing splits a run's wall time into parts, which overlap: Total,
// REPLStart and Code are the root run's, and Code includes the sub-calls and
// child RLMs its cells made; Controller and Worker add up the waits for each
// model over all runs, where a batch of concurrent worker calls counts once.
type Timing struct {
	Total      time.Duration `json:"total"`
	REPLStart  time.Duration `json:"repl_start"`
	Controller time.Duration `json:"controller"`
	Code       time.Duration `json:"code"`
	Worker     time.Duration `json:"worker"`
}

// clone returns a copy that shares no map with s.
func (s Stats) clone() Stats {
	s.SubCallsByDepth = maps.Clone(s.SubCallsByDepth)
	s.Workers = maps.Clone(s.Workers)
	return s
}

// addChild adds the statistics of a child run. The child's Total,
// REPLStart and Code happened inside one of this run's cells, so they are
// not added again.
func (s *Stats) addChild(child Stats) {
	s.Runs += child.Runs
	s.Iterations += child.Iterations
	s.CodeBlocks += child.CodeBlocks
	s.CodeBlocksFailed += child.CodeBlocksFailed
	s.SubCalls += child.SubCalls
	s.SubCallsFailed += child.SubCallsFailed
	s.SubCallsAsync += child.SubCallsAsync
	s.SubCallCacheHits += child.SubCallCacheHits
	for depth, n := range child.SubCallsByDepth {
		s.countSubCall(depth, n)
	}
	s.Controller.addUsage(child.Controller)
	s.Worker.addUsage(child.Worker)
	for name, u := range child.Workers {
		s.addWorkerUsage(name, u)
	}
	s.Compactions += child.Compactions
	s.CompactionsFailed += child.CompactionsFailed
	s.REPLStarts += child.REPLStarts
	s.DocumentsBound += child.DocumentsBound
	s.Time.Controller += child.Time.Controller
	s.Time.Worker += child.Time.Worker
}

// add adds the statistics of a run that happened after s's, such as the
// next question of a session: its times too.
func (s *Stats) add(o Stats) {
	s.addChild(o)
	s.Time.Total += o.Time.Total
	s.Time.REPLStart += o.Time.REPLStart
	s.Time.Code += o.Time.Code
}

func (s *Stats) countSubCall(depth, n int) {
	if s.SubCallsByDepth == nil {
		s.SubCallsByDepth = map[int]int{}
	}
	s.SubCallsByDepth[depth] += n
}

// addWorker counts a completion of the named worker.
func (s *Stats) addWorker(name string, c Completion) {
	s.addWorkerUsage(name, Usage{Calls: 1, PromptTokens: c.PromptTokens,
		CompletionTokens: c.CompletionTokens, CachedPromptTokens: c.CachedPromptTokens})
}

func (s *Stats) addWorkerUsage(name string, o Usage) {
	if s.Workers == nil {
		s.Workers = map[string]Usage{}
	}
	u := s.Workers[name]
	u.addUsage(o)
	s.Workers[name] = u
}

func (u *Usage) addUsage(o Usage) {
	u.Calls += o.Calls
	u.PromptTokens += o.PromptTokens
	u.CompletionTokens += o.CompletionTokens
	u.CachedPromptTokens += o.CachedPromptTokens
}
