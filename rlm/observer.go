package rlm

import (
	"sync"
	"time"
)

// Observer receives the events of a run as they happen. Any field may be
// nil. Within one [RLM.Run] (child RLMs included) the engine calls observers
// one at a time, never concurrently, so an Observer needs no locking of its
// own unless it is shared between concurrent runs. Callbacks run on the
// engine's path: keep them quick.
type Observer struct {
	// RunStart is called when a run (the root or a child RLM) starts.
	RunStart func(RunStartEvent)
	// Iteration is called after each controller reply has been handled:
	// its code has run and the next message is known.
	Iteration func(IterationEvent)
	// CodeBlock is called after each code block has run.
	CodeBlock func(CodeBlockEvent)
	// SubCall is called after each sub-call has been answered or has
	// failed.
	SubCall func(SubCallEvent)
	// RunEnd is called when a run ends, with its result.
	RunEnd func(RunEndEvent)
	// Compaction is called when the controller's conversation has been
	// compacted, or compaction was tried and failed.
	Compaction func(CompactionEvent)
}

// RunStartEvent describes a run as it starts.
type RunStartEvent struct {
	// Run numbers the runs of one [RLM.Run]: 0 is the root, child RLMs count
	// up from 1 in the order they start.
	Run int `json:"run"`
	// Depth is 0 for the root and 1 for a child it starts.
	Depth int `json:"depth"`
	// ParentCall is the ID of the rlm_query sub-call that started this
	// child run; 0 for the root.
	ParentCall int64  `json:"parent_call,omitempty"`
	Question   string `json:"question"`
	// DocumentLength is the document's length in bytes; for a [Session]
	// with several documents, the first one's.
	DocumentLength int `json:"document_length"`
	// Documents counts the documents bound in the REPL when there are
	// more than one.
	Documents int `json:"documents,omitempty"`
	// Turn numbers the questions of a [Session] from 1; 0 for [RLM.Run].
	Turn int `json:"turn,omitempty"`
	// REPLRestarted reports that the session's REPL had died since the
	// last question and was started anew: documents bound again,
	// variables of earlier questions lost.
	REPLRestarted bool `json:"repl_restarted,omitempty"`
	// Protocol is the final-answer protocol the system prompt teaches.
	Protocol string `json:"protocol,omitempty"`
	// SystemPrompt and FirstMessage are the controller's first two messages.
	SystemPrompt  string `json:"system_prompt"`
	FirstMessage  string `json:"first_message"`
	MaxIterations int    `json:"max_iterations"`
}

// IterationEvent describes one controller reply and what came of it.
type IterationEvent struct {
	Run   int `json:"run"`
	Depth int `json:"depth"`
	// Iteration counts from 1; the extra request for an answer after the
	// last iteration has MaxIterations+1 and Extra set.
	Iteration int  `json:"iteration"`
	Extra     bool `json:"extra,omitempty"`
	// Reply is the controller's reply, in full.
	Reply string `json:"reply"`
	// Blocks counts the code blocks of the reply that ran.
	Blocks           int `json:"blocks"`
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	// CachedPromptTokens are the prompt tokens the controller reused from
	// an earlier call ([Completion.CachedPromptTokens]).
	CachedPromptTokens int           `json:"cached_prompt_tokens,omitempty"`
	ControllerTime     time.Duration `json:"controller_time"`
	CodeTime           time.Duration `json:"code_time"`
	// Final reports that this reply ended the run with the answer Answer.
	Final  bool   `json:"final,omitempty"`
	Answer string `json:"answer,omitempty"`
	// FinalRejected says why a FINAL written in the reply did not count.
	FinalRejected string `json:"final_rejected,omitempty"`
	// Feedback is the message sent to the controller next; empty when the
	// run ended.
	Feedback string `json:"feedback,omitempty"`
	// Shortened counts earlier messages shortened or dropped to fit the
	// controller's context window before this reply was asked for.
	Shortened int `json:"shortened,omitempty"`
}

// CodeBlockEvent describes one code block run in the REPL.
type CodeBlockEvent struct {
	Run       int `json:"run"`
	Depth     int `json:"depth"`
	Iteration int `json:"iteration"`
	// Block counts the reply's code blocks from 1.
	Block  int    `json:"block"`
	Code   string `json:"code"`
	Stdout string `json:"stdout,omitempty"`
	Stderr string `json:"stderr,omitempty"`
	// Exception is nil when the block ran to completion.
	Exception *Exception `json:"exception,omitempty"`
	// Changed lists the variables the block defined or rebound.
	Changed []string `json:"changed,omitempty"`
	// Restored lists protected names (context, llm_query, ...) the block
	// rebound and that were put back.
	Restored []string `json:"restored,omitempty"`
	// Truncated reports that stdout or stderr went past the output cap.
	Truncated bool `json:"truncated,omitempty"`
	// Restarted reports that the Python process had to be restarted,
	// losing the variables the code had defined.
	Restarted bool          `json:"restarted,omitempty"`
	Duration  time.Duration `json:"duration"`
	// SubCalls counts the sub-calls the block made.
	SubCalls int `json:"sub_calls,omitempty"`
	// Final reports that the block called FINAL or FINAL_VAR, with Answer.
	Final  bool   `json:"final,omitempty"`
	Answer string `json:"answer,omitempty"`
}

// Exception is a Python exception raised by a code block.
type Exception struct {
	Type      string `json:"type"`
	Message   string `json:"message"`
	Traceback string `json:"traceback,omitempty"`
}

// SubCallEvent describes one sub-call once it has been answered.
type SubCallEvent struct {
	SubCallInfo
	// Run, Iteration and Block locate the code that made the call.
	Run       int `json:"run"`
	Iteration int `json:"iteration"`
	Block     int `json:"block"`
	// Batch is the size of the batch the call was part of (1 for a single
	// call) and BatchIndex its place in it, from 0.
	Batch      int `json:"batch"`
	BatchIndex int `json:"batch_index"`
	// Async marks a call started by llm_query_async or sub_call_async: it
	// ran while the code went on, and is reported when it ended, which may
	// be after the block that started it.
	Async bool `json:"async,omitempty"`
	// Cached marks an answer served by the sub-call cache
	// ([WithSubCallCache]) without calling the worker.
	Cached bool `json:"cached,omitempty"`
	// Answer is what Python got; when the call failed, Error says why and
	// Python got an error string instead.
	Answer           string        `json:"answer"`
	Error            string        `json:"error,omitempty"`
	PromptTokens     int           `json:"prompt_tokens"`
	CompletionTokens int           `json:"completion_tokens"`
	Duration         time.Duration `json:"duration"`
	// ChildRun is the [RunStartEvent.Run] of the child RLM an rlm_query
	// started; 0 when it started none.
	ChildRun int `json:"child_run,omitempty"`
}

// CompactionEvent describes the compaction of the controller's
// conversation: the messages that were replaced and the summary that
// replaced them, or why compaction failed.
type CompactionEvent struct {
	Run   int `json:"run"`
	Depth int `json:"depth"`
	// Iteration is the reply that was about to be asked for.
	Iteration int `json:"iteration"`
	// Replaced are the messages the summary replaced, in full: every turn
	// after the question but the latest reply and its output.
	Replaced []Message `json:"replaced,omitempty"`
	// Summary is the controller's summary; it now stands in the
	// conversation as an assistant message, followed by a note that the
	// conversation was compacted.
	Summary string `json:"summary,omitempty"`
	// TokensBefore and TokensAfter estimate the conversation's size.
	TokensBefore int `json:"tokens_before"`
	TokensAfter  int `json:"tokens_after"`
	// PromptTokens and CompletionTokens are the summary call's.
	PromptTokens     int           `json:"prompt_tokens"`
	CompletionTokens int           `json:"completion_tokens"`
	Duration         time.Duration `json:"duration"`
	// Error says why compaction failed; the conversation was then
	// shortened instead (see [IterationEvent.Shortened]).
	Error string `json:"error,omitempty"`
}

// RunEndEvent describes a run as it ends.
type RunEndEvent struct {
	Run    int    `json:"run"`
	Depth  int    `json:"depth"`
	Result Result `json:"result"`
	// Error is the text of the error [RLM.Run] returned, if any.
	Error string `json:"error,omitempty"`
}

// observers calls a list of observers one event at a time.
type observers struct {
	mu   sync.Mutex
	list []Observer
}

func (o *observers) runStart(e RunStartEvent) {
	o.each(func(ob Observer) {
		if ob.RunStart != nil {
			ob.RunStart(e)
		}
	})
}

func (o *observers) iteration(e IterationEvent) {
	o.each(func(ob Observer) {
		if ob.Iteration != nil {
			ob.Iteration(e)
		}
	})
}

func (o *observers) codeBlock(e CodeBlockEvent) {
	o.each(func(ob Observer) {
		if ob.CodeBlock != nil {
			ob.CodeBlock(e)
		}
	})
}

func (o *observers) subCall(e SubCallEvent) {
	o.each(func(ob Observer) {
		if ob.SubCall != nil {
			ob.SubCall(e)
		}
	})
}

func (o *observers) runEnd(e RunEndEvent) {
	o.each(func(ob Observer) {
		if ob.RunEnd != nil {
			ob.RunEnd(e)
		}
	})
}

func (o *observers) compaction(e CompactionEvent) {
	o.each(func(ob Observer) {
		if ob.Compaction != nil {
			ob.Compaction(e)
		}
	})
}

func (o *observers) each(call func(Observer)) {
	if len(o.list) == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, ob := range o.list {
		call(ob)
	}
}
