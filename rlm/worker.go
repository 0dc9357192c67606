package rlm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// workerCall is one sub-call to make.
type workerCall struct {
	kind     SubCallKind
	messages []Message
	// chunk is the text located in the document for the event's offset.
	chunk string
	query string
}

// promptCall is a sub-call that sends prompt as is.
func promptCall(kind SubCallKind, prompt string) workerCall {
	return workerCall{kind: kind, messages: promptMessages(prompt), chunk: prompt, query: abbreviate(prompt, 1000)}
}

// chunkCall is a sub-call that asks query about chunk.
func chunkCall(kind SubCallKind, chunk, query string) workerCall {
	return workerCall{kind: kind, messages: subCallMessages(chunk, query), chunk: chunk, query: query}
}

// callSite is where the code that makes a call runs.
type callSite struct {
	iteration, block int
	// async marks calls started by llm_query_async or sub_call_async.
	async bool
}

// site returns where the running code comes from.
func (ru *run) site() callSite {
	iteration, block := ru.position()
	return callSite{iteration: iteration, block: block}
}

// errorAnswer is what Python gets from a failed sub-call.
func errorAnswer(reason string) string { return "Error: " + reason }

// callWorker makes the sub-calls on the named worker ("" is the run's
// default) and returns their answers in order; a sub-call that fails or is
// refused by a budget answers with an error string. Answers the sub-call
// cache holds are not asked again. A [BatchLM] worker gets the calls as
// batches of at most the concurrency option; any other worker gets that
// many concurrent calls.
func (ru *run) callWorker(ctx context.Context, site callSite, worker string, calls []workerCall) []string {
	name := ru.workerName(worker)
	lm, err := ru.t.rlm.worker(name)
	cache := ru.cfg.cache
	var fingerprint string
	if cache != nil && err == nil {
		fingerprint = fingerprintOf(lm)
	}
	events := make([]SubCallEvent, len(calls))
	keys := make([]string, len(calls))
	var pending []int
	for i, c := range calls {
		doc, offset := ru.locate(c.chunk)
		events[i] = SubCallEvent{
			SubCallInfo: SubCallInfo{
				ID: ru.t.lastCallID.Add(1), Depth: ru.spec.depth + 1, Kind: c.kind, Model: modelField(name),
				Document: doc, Offset: offset, Length: len(c.chunk), Query: c.query,
			},
			Run: ru.spec.id, Iteration: site.iteration, Block: site.block, Batch: len(calls), BatchIndex: i,
			Async: site.async,
		}
		if err != nil {
			events[i].Error = err.Error()
			ru.record(events[i], false)
			continue
		}
		if cache != nil {
			keys[i] = SubCallKey(name, fingerprint, c.messages)
			if answer, ok := cache.Get(keys[i]); ok {
				events[i].Answer, events[i].Cached = answer, true
				ru.record(events[i], true)
				continue
			}
		}
		if err := ru.t.budget.startSubCall(); err != nil {
			events[i].Error = err.Error()
			ru.record(events[i], false)
			continue
		}
		pending = append(pending, i)
	}
	start := time.Now()
	if batcher, ok := lm.(BatchLM); ok && len(pending) > 1 {
		ru.completeBatches(ctx, batcher, calls, events, pending)
	} else if len(pending) > 0 {
		ru.completeConcurrently(ctx, lm, calls, events, pending)
	}
	if len(pending) > 0 {
		ru.mu.Lock()
		ru.stats.Time.Worker += time.Since(start)
		ru.mu.Unlock()
	}
	answers := make([]string, len(calls))
	for i, e := range events {
		answers[i] = e.Answer
		if e.Error != "" {
			answers[i] = errorAnswer(e.Error)
		} else if cache != nil && !e.Cached {
			cache.Put(keys[i], e.Answer)
		}
	}
	return answers
}

// modelField is what SubCallInfo.Model holds for a worker: its name, or
// nothing for the default one.
func modelField(name string) string {
	if name == DefaultWorker {
		return ""
	}
	return name
}

// workerLabel names a worker for statistics and logs.
func workerLabel(model string) string {
	if model == "" {
		return DefaultWorker
	}
	return model
}

// workerName resolves a model= argument: none means the run's worker.
func (ru *run) workerName(worker string) string {
	switch {
	case worker != "":
		return worker
	case ru.spec.worker != "":
		return ru.spec.worker
	}
	return DefaultWorker
}

// completeConcurrently calls the worker once per pending call, at most
// the concurrency option at a time.
func (ru *run) completeConcurrently(ctx context.Context, lm LM, calls []workerCall, events []SubCallEvent, pending []int) {
	slots := make(chan struct{}, ru.cfg.concurrency)
	var wg sync.WaitGroup
	for _, i := range pending {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			if err := ctx.Err(); err != nil {
				ru.finishCall(ctx, &events[i], calls[i], Completion{}, err, 0)
				return
			}
			start := time.Now()
			c, err := lm.Complete(ContextWithSubCall(ctx, events[i].SubCallInfo), calls[i].messages)
			ru.finishCall(ctx, &events[i], calls[i], c, err, time.Since(start))
		}()
	}
	wg.Wait()
}

// completeBatches sends the pending calls to a batching worker, at most
// the concurrency option per batch, one batch after another.
func (ru *run) completeBatches(ctx context.Context, batcher BatchLM, calls []workerCall, events []SubCallEvent, pending []int) {
	for len(pending) > 0 {
		group := pending[:min(len(pending), ru.cfg.concurrency)]
		pending = pending[len(group):]
		infos := make([]SubCallInfo, len(group))
		conversations := make([][]Message, len(group))
		for j, i := range group {
			infos[j], conversations[j] = events[i].SubCallInfo, calls[i].messages
		}
		start := time.Now()
		completions, err := batcher.CompleteBatch(ContextWithSubCallBatch(ctx, infos), conversations)
		elapsed := time.Since(start)
		if err == nil && len(completions) != len(group) {
			err = fmt.Errorf("rlm: worker returned %d completions for %d conversations", len(completions), len(group))
		}
		errs := batchItemErrors(err, len(group))
		for j, i := range group {
			var c Completion
			if j < len(completions) {
				c = completions[j]
			}
			ru.finishCall(ctx, &events[i], calls[i], c, errs[j], elapsed)
		}
	}
}

// finishCall fills in a sub-call's event from the worker's completion and
// records it.
func (ru *run) finishCall(ctx context.Context, e *SubCallEvent, call workerCall, c Completion, err error, elapsed time.Duration) {
	e.Duration = elapsed
	if c.Duration > 0 {
		e.Duration = c.Duration
	}
	if err != nil {
		e.Error = err.Error()
		if cause := context.Cause(ctx); errors.Is(cause, errAsyncCancelled) || errors.Is(cause, errRunEnded) {
			e.Error = cause.Error()
		}
		ru.record(*e, true)
		return
	}
	if c.PromptTokens == 0 && c.CompletionTokens == 0 {
		c.PromptTokens, c.CompletionTokens = estimateTokens(messagesChars(call.messages)), estimateTokens(len(c.Text))
	}
	ru.t.budget.addWorkerTokens(c.PromptTokens + c.CompletionTokens)
	e.Answer, e.PromptTokens, e.CompletionTokens = c.Text, c.PromptTokens, c.CompletionTokens
	ru.mu.Lock()
	ru.stats.Worker.add(c)
	ru.stats.addWorker(workerLabel(e.Model), c)
	ru.mu.Unlock()
	ru.record(*e, true)
}

// record counts a sub-call and reports it to the observers. made is false
// for calls a budget or an unknown model refused, which are reported but
// not counted.
func (ru *run) record(e SubCallEvent, made bool) {
	if made {
		ru.mu.Lock()
		ru.stats.SubCalls++
		ru.stats.countSubCall(e.Depth, 1)
		if e.Error != "" {
			ru.stats.SubCallsFailed++
		}
		if e.Cached {
			ru.stats.SubCallCacheHits++
		}
		if e.Async {
			ru.stats.SubCallsAsync++
		} else {
			ru.blockSubCalls++ // asynchronous calls count when they start
		}
		ru.mu.Unlock()
	}
	if e.Error != "" {
		ru.log.Warn("rlm: sub-call failed", "id", e.ID, "kind", e.Kind, "model", workerLabel(e.Model), "err", e.Error)
	} else {
		ru.log.Debug("rlm: sub-call", "id", e.ID, "kind", e.Kind, "model", workerLabel(e.Model), "offset", e.Offset,
			"length", e.Length, "duration", e.Duration, "cached", e.Cached)
	}
	ru.t.obs.subCall(e)
}

// callChildren runs a child RLM for each text, at most the concurrency
// option at once, and returns their answers (or error strings) in order.
// Children use the named worker as their default one.
func (ru *run) callChildren(ctx context.Context, texts []string, query, worker string) []string {
	site := ru.site()
	answers := make([]string, len(texts))
	slots := make(chan struct{}, ru.cfg.concurrency)
	var wg sync.WaitGroup
	for i, text := range texts {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			answers[i] = ru.callChild(ctx, site, text, query, worker, len(texts), i)
		}()
	}
	wg.Wait()
	return answers
}

// callChild runs a child RLM over text for rlm_query and returns its answer,
// or an error string.
func (ru *run) callChild(ctx context.Context, site callSite, text, query, worker string, batch, index int) string {
	question := query
	if question == "" {
		question = childQuestionForPrompt
	}
	kind := KindRLMQuery
	if batch > 1 {
		kind = KindRLMQueryBatched
	}
	doc, offset := ru.locate(text)
	e := SubCallEvent{
		SubCallInfo: SubCallInfo{
			ID: ru.t.lastCallID.Add(1), Depth: ru.spec.depth + 1, Kind: kind, Model: modelField(ru.workerName(worker)),
			Document: doc, Offset: offset, Length: len(text), Query: question,
		},
		Run: ru.spec.id, Iteration: site.iteration, Block: site.block, Batch: batch, BatchIndex: index,
	}
	if err := ru.t.budget.startSubCall(); err != nil {
		e.Error = err.Error()
		ru.record(e, false)
		return errorAnswer(e.Error)
	}
	e.ChildRun = int(ru.t.lastRunID.Add(1))
	start := time.Now()
	res, err := ru.t.run(ctx, runSpec{
		documents: []string{text}, question: question, worker: ru.workerName(worker),
		id: e.ChildRun, depth: ru.spec.depth + 1, parentCall: e.ID,
	})
	e.Duration = time.Since(start)
	ru.mu.Lock()
	ru.stats.addChild(res.Stats)
	ru.mu.Unlock()
	switch {
	case err != nil:
		e.Error = "child RLM failed: " + err.Error()
	case res.Answer == "":
		e.Error = "child RLM stopped without an answer (" + res.Stop.String() + ")"
	default:
		e.Answer = res.Answer
	}
	ru.record(e, true)
	if e.Error != "" {
		return errorAnswer(e.Error)
	}
	return e.Answer
}

// abbreviate keeps the first and last n bytes of a long text.
func abbreviate(s string, n int) string {
	if len(s) <= 2*n+100 {
		return s
	}
	head := validUTF8Prefix(s, n)
	tail := len(s) - n
	for tail < len(s) && s[tail]&0xC0 == 0x80 {
		tail++
	}
	return s[:head] + fmt.Sprintf("\n[... %d bytes ...]\n", tail-head) + s[tail:]
}
