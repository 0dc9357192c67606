package rlm

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/go-rlm/rlm/repl"
)

// runSpec says what one run (the root or a child RLM) is about.
type runSpec struct {
	document string
	question string
	// id, depth and parentCall place the run in its tree: the root is run
	// 0 at depth 0 with no parent call.
	id         int
	depth      int
	parentCall int64
}

// run is the state of one controller loop and its REPL.
type run struct {
	t    *tree
	spec runSpec
	cfg  *config
	log  *slog.Logger
	repl *repl.REPL
	hist *history

	// mu guards the fields below, which host functions reach from the
	// REPL's goroutines while a cell runs.
	mu sync.Mutex
	// iteration and block locate the code running now, for events.
	iteration, block int
	blockSubCalls    int
	// final is the answer FINAL gave during the current block.
	final *string
	// offsetHint is where the last located chunk ended: chunks usually
	// follow each other, so the next one is looked for there first.
	offsetHint int
	stats      Stats
}

// run carries out one run and reports it to the observers.
func (t *tree) run(ctx context.Context, spec runSpec) (Result, error) {
	start := time.Now()
	cfg := &t.rlm.cfg
	system := cfg.systemPrompt
	if system == "" {
		system = renderSystemPrompt(*cfg, spec.depth+1 < cfg.maxDepth)
	}
	first := firstMessage(spec.document, spec.question, cfg.maxIterations)
	ru := &run{
		t:    t,
		spec: spec,
		cfg:  cfg,
		log:  t.log.With("run", spec.id, "depth", spec.depth),
		hist: newHistory(system, first),
	}
	ru.stats.Runs = 1
	t.obs.runStart(RunStartEvent{
		Run: spec.id, Depth: spec.depth, ParentCall: spec.parentCall,
		Question: spec.question, DocumentLength: len(spec.document),
		SystemPrompt: system, FirstMessage: first, MaxIterations: cfg.maxIterations,
	})
	ru.log.Info("rlm: run started", "document_length", len(spec.document), "question", spec.question)

	res, err := ru.loop(ctx)

	ru.mu.Lock()
	ru.stats.Time.Total = time.Since(start)
	res.Stats = ru.stats.clone()
	ru.mu.Unlock()
	end := RunEndEvent{Run: spec.id, Depth: spec.depth, Result: res}
	if err != nil {
		end.Error = err.Error()
		ru.log.Warn("rlm: run failed", "stop", res.Stop, "err", err)
	} else {
		ru.log.Info("rlm: run ended", "stop", res.Stop, "final", res.Final,
			"iterations", res.Stats.Iterations, "sub_calls", res.Stats.SubCalls, "time", res.Stats.Time.Total)
	}
	t.obs.runEnd(end)
	return res, err
}

// loop starts the REPL and alternates controller replies and code until a
// final answer, a budget or an error ends the run.
func (ru *run) loop(ctx context.Context) (Result, error) {
	if err := ru.startREPL(ctx); err != nil {
		return ru.stopped(ctx, fmt.Errorf("start repl: %w", err))
	}
	defer ru.repl.Close()

	maxIterations := ru.cfg.maxIterations
	for it := 1; it <= maxIterations; it++ {
		if ru.t.budget.controllerSpent() {
			return Result{Stop: StopControllerTokens}, nil
		}
		st, err := ru.step(ctx, it)
		if err != nil {
			return ru.stopped(ctx, err)
		}
		if st.final {
			ru.t.obs.iteration(st.event)
			return Result{Answer: st.event.Answer, Final: true, Stop: StopFinal}, nil
		}
		if ru.t.budget.controllerSpent() {
			ru.t.obs.iteration(st.event)
			return Result{Stop: StopControllerTokens}, nil
		}
		reason := ru.t.budget.exhaustedReason()
		if reason == 0 && it == maxIterations {
			reason = StopMaxIterations
		}
		next := continueMessage(it, maxIterations)
		if reason != 0 {
			next = finalRequest(reason, maxIterations)
		}
		st.event.Feedback = st.feedback(next)
		ru.t.obs.iteration(st.event)
		ru.hist.add(RoleUser, st.event.Feedback)
		if reason != 0 {
			return ru.lastChance(ctx, reason, it+1)
		}
	}
	panic("unreachable: the last iteration always returns")
}

// lastChance asks the controller once more for an answer after the run
// could not go on for reason. Code in that reply still runs (models often
// answer with FINAL in a block), but nothing more is asked.
func (ru *run) lastChance(ctx context.Context, reason StopReason, iteration int) (Result, error) {
	if ru.t.budget.controllerSpent() {
		return Result{Stop: reason}, nil
	}
	st, err := ru.step(ctx, iteration)
	if err != nil {
		return ru.stopped(ctx, err)
	}
	st.event.Extra = true
	ru.t.obs.iteration(st.event)
	if st.final {
		return Result{Answer: st.event.Answer, Final: true, Stop: reason}, nil
	}
	_, prose := splitFences(st.event.Reply)
	return Result{Answer: strings.TrimSpace(prose), Stop: reason}, nil
}

// stopped turns the error that ended a run into its result.
func (ru *run) stopped(ctx context.Context, err error) (Result, error) {
	reason, err := ru.t.stopCause(ctx, err)
	return Result{Stop: reason}, err
}

// startREPL starts the run's interpreter and binds the document.
func (ru *run) startREPL(ctx context.Context) error {
	start := time.Now()
	opts := append([]repl.Option{repl.WithLogger(ru.log)}, ru.cfg.replOptions...)
	opts = append(opts, ru.hostOptions()...)
	opts = append(opts, repl.WithOutputLimit(ru.cfg.outputCap), repl.WithPrelude(prelude))
	r, err := repl.Start(ctx, opts...)
	if err != nil {
		return err
	}
	for name, value := range map[string]string{
		"context":  ru.spec.document,
		"prompt":   ru.spec.document,
		"question": ru.spec.question,
	} {
		if err := r.Set(name, value); err != nil {
			r.Close()
			return fmt.Errorf("bind %s: %w", name, err)
		}
	}
	ru.repl = r
	ru.mu.Lock()
	ru.stats.Time.REPLStart = time.Since(start)
	ru.mu.Unlock()
	return nil
}

// stepResult is one controller reply and what came of it.
type stepResult struct {
	event   IterationEvent
	blocks  []CodeBlockEvent
	skipped int
	noCode  bool
	final   bool
}

// feedback is the message that reports the step to the controller, ending
// with next.
func (st *stepResult) feedback(next string) string {
	if st.noCode {
		return noCodeMessage + next
	}
	return feedbackMessage(st.blocks, st.skipped, st.event.FinalRejected, next)
}

// step asks the controller for a reply, runs its code and settles whether
// it gave a final answer.
func (ru *run) step(ctx context.Context, iteration int) (*stepResult, error) {
	shortened := ru.hist.fit(ru.cfg.controllerContext)
	if shortened > 0 {
		ru.log.Debug("rlm: shortened history", "messages", shortened)
	}
	sent := append([]Message(nil), ru.hist.messages...)
	start := time.Now()
	c, err := ru.t.rlm.controller.Complete(ctx, sent)
	elapsed := time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	if c.PromptTokens == 0 && c.CompletionTokens == 0 {
		c.PromptTokens, c.CompletionTokens = estimateTokens(messagesChars(sent)), estimateTokens(len(c.Text))
	} else {
		ru.hist.calibrate(messagesChars(sent), c.PromptTokens)
	}
	ru.t.budget.addControllerTokens(c.PromptTokens + c.CompletionTokens)
	ru.hist.add(RoleAssistant, c.Text)
	ru.mu.Lock()
	ru.stats.Iterations++
	ru.stats.Controller.add(c)
	ru.stats.Time.Controller += elapsed
	ru.mu.Unlock()

	st := &stepResult{event: IterationEvent{
		Run: ru.spec.id, Depth: ru.spec.depth, Iteration: iteration, Reply: c.Text,
		PromptTokens: c.PromptTokens, CompletionTokens: c.CompletionTokens,
		ControllerTime: elapsed, Shortened: shortened,
	}}
	codeStart := time.Now()
	err = ru.handleReply(ctx, st, parseReply(c.Text))
	st.event.CodeTime = time.Since(codeStart)
	ru.mu.Lock()
	ru.stats.Time.Code += st.event.CodeTime
	ru.mu.Unlock()
	ru.log.Debug("rlm: iteration", "iteration", iteration, "blocks", st.event.Blocks, "final", st.final,
		"controller_time", elapsed, "code_time", st.event.CodeTime)
	return st, err
}

// handleReply runs the reply's code blocks in order and decides whether
// the reply gave a final answer. FINAL called by code counts at once, and
// the blocks after it do not run. FINAL written as text counts only once
// the reply's code has run without an exception: it was written before the
// output was seen, and stands only if nothing contradicted it.
func (ru *run) handleReply(ctx context.Context, st *stepResult, reply parsedReply) error {
	if len(reply.blocks) == 0 && reply.final == nil {
		st.noCode = true
		return nil
	}
	failed := false
	for i, code := range reply.blocks {
		e, err := ru.execBlock(ctx, st.event.Iteration, i+1, code)
		if err != nil {
			return err
		}
		st.blocks = append(st.blocks, e)
		st.event.Blocks++
		failed = failed || e.Exception != nil || e.Restarted
		if e.Final {
			st.final, st.event.Final, st.event.Answer = true, true, e.Answer
			st.skipped = len(reply.blocks) - i - 1
			return nil
		}
	}
	if reply.final == nil {
		return nil
	}
	switch {
	case failed:
		st.event.FinalRejected = "a code block in the same reply failed, so that answer was written without " +
			"knowing the result. Read the output above, fix the code, and answer again."
	case reply.final.variable:
		answer, rejected, err := ru.resolveFinalVar(ctx, reply.final.value)
		if err != nil {
			return err
		}
		if rejected != "" {
			st.event.FinalRejected = rejected
			return nil
		}
		st.final, st.event.Final, st.event.Answer = true, true, answer
	default:
		st.final, st.event.Final, st.event.Answer = true, true, reply.final.value
	}
	return nil
}

var pythonIdentifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// resolveFinalVar reads the variable a FINAL_VAR written as text names, by
// calling FINAL_VAR in the REPL so that the value is converted the way
// Python's str() does. rejected says why there is no answer.
func (ru *run) resolveFinalVar(ctx context.Context, name string) (answer, rejected string, err error) {
	if !pythonIdentifier.MatchString(name) {
		return "", fmt.Sprintf("FINAL_VAR needs the name of a variable, and %q is not one. "+
			"Use FINAL(answer) to answer with text.", name), nil
	}
	ru.beginBlock(0, 0)
	res, err := ru.repl.Exec(ctx, fmt.Sprintf("FINAL_VAR(%q)", name))
	_, final := ru.endBlock()
	if err != nil {
		return "", "", fmt.Errorf("repl: resolve FINAL_VAR: %w", err)
	}
	if res.Exception != nil || final == nil {
		why := "it could not be read"
		if res.Exception != nil {
			why = res.Exception.Type + ": " + res.Exception.Message
		}
		return "", fmt.Sprintf("FINAL_VAR(%s) failed: %s. Assign the variable in a ```repl block first.",
			name, why), nil
	}
	return *final, "", nil
}

// execBlock runs one code block and reports it.
func (ru *run) execBlock(ctx context.Context, iteration, block int, code string) (CodeBlockEvent, error) {
	ru.beginBlock(iteration, block)
	res, err := ru.repl.Exec(ctx, code)
	subCalls, final := ru.endBlock()
	if err != nil {
		return CodeBlockEvent{}, fmt.Errorf("repl: exec: %w", err)
	}
	e := CodeBlockEvent{
		Run: ru.spec.id, Depth: ru.spec.depth, Iteration: iteration, Block: block, Code: code,
		Stdout: res.Stdout, Stderr: res.Stderr,
		Changed: res.Changed, Restored: res.Restored,
		Truncated: res.StdoutTruncated || res.StderrTruncated,
		Restarted: res.Restarted, Duration: res.Duration, SubCalls: subCalls,
	}
	if res.Exception != nil {
		e.Exception = &Exception{Type: res.Exception.Type, Message: res.Exception.Message, Traceback: res.Exception.Traceback}
	}
	if final != nil {
		e.Final, e.Answer = true, *final
	}
	ru.mu.Lock()
	ru.stats.CodeBlocks++
	if e.Exception != nil {
		ru.stats.CodeBlocksFailed++
	}
	ru.mu.Unlock()
	if len(e.Restored) > 0 {
		ru.log.Info("rlm: code rebound protected names; restored", "names", e.Restored)
	}
	ru.t.obs.codeBlock(e)
	return e, nil
}

// beginBlock records where the code about to run comes from.
func (ru *run) beginBlock(iteration, block int) {
	ru.mu.Lock()
	ru.iteration, ru.block = iteration, block
	ru.blockSubCalls = 0
	ru.final = nil
	ru.mu.Unlock()
}

// endBlock returns what the block that ran did through host functions.
func (ru *run) endBlock() (subCalls int, final *string) {
	ru.mu.Lock()
	defer ru.mu.Unlock()
	return ru.blockSubCalls, ru.final
}

// position returns where the running code comes from.
func (ru *run) position() (iteration, block int) {
	ru.mu.Lock()
	defer ru.mu.Unlock()
	return ru.iteration, ru.block
}

// setFinal records an answer given by FINAL from code.
func (ru *run) setFinal(answer string) {
	ru.mu.Lock()
	ru.final = &answer
	ru.mu.Unlock()
}

// locate finds chunk in the document: first where the last chunk ended,
// then near it (chunks may overlap), then anywhere. It returns -1 when the
// chunk is not a slice of the document.
func (ru *run) locate(chunk string) int {
	if chunk == "" {
		return -1
	}
	doc := ru.spec.document
	ru.mu.Lock()
	defer ru.mu.Unlock()
	hint := ru.offsetHint
	offset := -1
	switch {
	case strings.HasPrefix(doc[hint:], chunk):
		offset = hint
	default:
		from := max(0, hint-len(chunk))
		if i := strings.Index(doc[from:], chunk); i >= 0 {
			offset = from + i
		} else if i := strings.Index(doc[:min(len(doc), hint+len(chunk))], chunk); i >= 0 {
			offset = i
		}
	}
	if offset >= 0 {
		ru.offsetHint = offset + len(chunk)
	}
	return offset
}
