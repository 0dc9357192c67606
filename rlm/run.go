package rlm

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"
)

// runSpec says what one run (the root, a child RLM or a session's
// question) is about.
type runSpec struct {
	documents []string
	question  string
	// worker names the worker that answers when code passes no model=;
	// empty means DefaultWorker.
	worker string
	// id, depth and parentCall place the run in its tree: the root is run
	// 0 at depth 0 with no parent call.
	id         int
	depth      int
	parentCall int64
	// ws is the workspace of a session; nil gives the run one of its own.
	ws *workspace
	// session marks a question of a Session, turn its number and history
	// the questions answered before it.
	session bool
	turn    int
	history []Turn
}

// run is the state of one controller loop.
type run struct {
	t     *tree
	spec  runSpec
	cfg   *config
	log   *slog.Logger
	ws    *workspace
	hist  *history
	async *asyncRuns

	// compactions counts the summaries that replaced the conversation.
	compactions int

	// mu guards the fields below, which host functions reach from the
	// REPL's goroutines while a cell runs.
	mu sync.Mutex
	// iteration and block locate the code running now, for events.
	iteration, block int
	blockSubCalls    int
	// final is the answer FINAL or the answer dict gave during the current
	// block; answerRestored notes that the block replaced the answer dict.
	final          *string
	answerRestored bool
	// hintDoc and hintOffset are where the last located chunk ended:
	// chunks usually follow each other, so the next one is looked for
	// there first.
	hintDoc, hintOffset int
	stats               Stats
}

// run carries out one run and reports it to the observers.
func (t *tree) run(ctx context.Context, spec runSpec) (Result, error) {
	start := time.Now()
	cfg := &t.rlm.cfg
	ru := &run{
		t:     t,
		spec:  spec,
		cfg:   cfg,
		log:   t.log.With("run", spec.id, "depth", spec.depth),
		async: newAsyncRuns(ctx, cfg.concurrency),
	}
	if spec.turn > 0 {
		ru.log = ru.log.With("turn", spec.turn)
	}
	ru.stats.Runs = 1
	restarted, prepErr := ru.prepare(ctx)

	system := cfg.systemPrompt
	if system == "" {
		system = renderSystemPrompt(*cfg, t.rlm.workers, ru.workerName(""), !ru.atMaxDepth())
	}
	first := ru.firstMessage(restarted)
	ru.hist = newHistory(system, first)
	start0 := RunStartEvent{
		Run: spec.id, Depth: spec.depth, ParentCall: spec.parentCall,
		Question: spec.question, DocumentLength: len(spec.documents[0]),
		SystemPrompt: system, FirstMessage: first, MaxIterations: cfg.maxIterations,
		Turn: spec.turn, REPLRestarted: restarted, Protocol: cfg.protocol.String(),
	}
	if len(spec.documents) > 1 {
		start0.Documents = len(spec.documents)
	}
	t.obs.runStart(start0)
	ru.log.Info("rlm: run started", "document_length", len(spec.documents[0]), "question", spec.question)

	var res Result
	var err error
	if prepErr != nil {
		res, err = ru.stopped(ctx, prepErr)
	} else {
		res, err = ru.loop(ctx)
	}
	ru.async.stop()
	if ru.ws != nil {
		ru.ws.detach(ru)
		if spec.ws == nil {
			ru.ws.close()
		}
	}

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

// prepare readies the REPL: it starts one, with the documents bound, for a
// run of its own, and readies a session's for the question. restarted
// reports a session's REPL that had died since the last question.
func (ru *run) prepare(ctx context.Context) (restarted bool, err error) {
	start := time.Now()
	ws := ru.spec.ws
	if ws == nil {
		if ws, err = startWorkspace(ctx, ru.cfg, ru.log, ru.spec.documents); err != nil {
			return false, fmt.Errorf("start repl: %w", err)
		}
		ru.stats.REPLStarts, ru.stats.DocumentsBound = 1, len(ru.spec.documents)
	}
	ru.ws = ws
	restarted, err = ws.begin(ctx, ru)
	if restarted {
		ru.stats.REPLStarts, ru.stats.DocumentsBound = 1, len(ru.spec.documents)
	}
	if ru.stats.REPLStarts > 0 {
		ru.stats.Time.REPLStart = time.Since(start)
	}
	return restarted, err
}

// loop alternates controller replies and code until a final answer, a
// budget or an error ends the run.
func (ru *run) loop(ctx context.Context) (Result, error) {
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
		next := ru.continueMessage(it)
		if reason != 0 {
			next = ru.finalRequest(reason)
		}
		st.event.Feedback = ru.feedback(st, next)
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
// answer in a block), but nothing more is asked.
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
func (ru *run) feedback(st *stepResult, next string) string {
	if st.noCode {
		return ru.noCodeMessage() + next
	}
	return feedbackMessage(st.blocks, st.skipped, st.event.FinalRejected, next)
}

// step asks the controller for a reply, runs its code and settles whether
// it gave a final answer.
func (ru *run) step(ctx context.Context, iteration int) (*stepResult, error) {
	shortened, err := ru.compact(ctx, iteration)
	if err != nil {
		return nil, err
	}
	shortened += ru.hist.fit(ru.cfg.controllerContext)
	if shortened > 0 {
		ru.log.Debug("rlm: shortened history", "messages", shortened)
	}
	sent := append([]Message(nil), ru.hist.messages...)
	c, elapsed, err := ru.complete(ctx, sent)
	if err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	ru.hist.add(RoleAssistant, c.Text)
	ru.mu.Lock()
	ru.stats.Iterations++
	ru.mu.Unlock()

	st := &stepResult{event: IterationEvent{
		Run: ru.spec.id, Depth: ru.spec.depth, Iteration: iteration, Reply: c.Text,
		PromptTokens: c.PromptTokens, CompletionTokens: c.CompletionTokens,
		CachedPromptTokens: c.CachedPromptTokens,
		ControllerTime:     elapsed, Shortened: shortened,
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

// complete makes one controller call and accounts for it: tokens (estimated
// when the controller reports none), the budget and the statistics.
func (ru *run) complete(ctx context.Context, messages []Message) (Completion, time.Duration, error) {
	start := time.Now()
	c, err := ru.t.rlm.controller.Complete(ctx, messages)
	elapsed := time.Since(start)
	if err != nil {
		return c, elapsed, err
	}
	if c.PromptTokens == 0 && c.CompletionTokens == 0 {
		c.PromptTokens, c.CompletionTokens = estimateTokens(messagesChars(messages)), estimateTokens(len(c.Text))
	} else {
		ru.hist.calibrate(messagesChars(messages), c.PromptTokens)
	}
	ru.t.budget.addControllerTokens(c.PromptTokens + c.CompletionTokens)
	ru.mu.Lock()
	ru.stats.Controller.add(c)
	ru.stats.Time.Controller += elapsed
	ru.mu.Unlock()
	return c, elapsed, nil
}

// handleReply runs the reply's code blocks in order and decides whether
// the reply gave a final answer. An answer submitted by code (FINAL, or the
// answer dict marked ready) counts at once, and the blocks after it do not
// run. FINAL written as text counts only once the reply's code has run
// without an exception: it was written before the output was seen, and
// stands only if nothing contradicted it.
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
	res, err := ru.ws.exec(ctx, fmt.Sprintf("FINAL_VAR(%q)", name))
	_, final, _ := ru.endBlock()
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

// execBlock runs one code block, then looks at the answer dict, and
// reports the block.
func (ru *run) execBlock(ctx context.Context, iteration, block int, code string) (CodeBlockEvent, error) {
	ru.beginBlock(iteration, block)
	res, err := ru.ws.exec(ctx, code)
	if err == nil {
		err = ru.checkAnswer(ctx)
	}
	subCalls, final, answerRestored := ru.endBlock()
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
	if answerRestored {
		e.Restored = append(e.Restored, "answer")
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

// checkAnswer submits the answer dict's content when code marked it ready,
// and binds a fresh dict when code deleted it, or, under the answer
// protocol, replaced it with something that is not a dict.
func (ru *run) checkAnswer(ctx context.Context) error {
	res, err := ru.ws.exec(ctx, fmt.Sprintf("_rlm_check_answer(%s)", pythonBool(ru.cfg.protocol == ProtocolAnswer)))
	if err != nil {
		return err
	}
	if res.Exception != nil {
		ru.log.Warn("rlm: reading the answer dict failed", "type", res.Exception.Type, "message", res.Exception.Message)
	}
	return nil
}

// beginBlock records where the code about to run comes from.
func (ru *run) beginBlock(iteration, block int) {
	ru.mu.Lock()
	ru.iteration, ru.block = iteration, block
	ru.blockSubCalls = 0
	ru.final = nil
	ru.answerRestored = false
	ru.mu.Unlock()
}

// endBlock returns what the block that ran did through host functions.
func (ru *run) endBlock() (subCalls int, final *string, answerRestored bool) {
	ru.mu.Lock()
	defer ru.mu.Unlock()
	return ru.blockSubCalls, ru.final, ru.answerRestored
}

// position returns where the running code comes from.
func (ru *run) position() (iteration, block int) {
	ru.mu.Lock()
	defer ru.mu.Unlock()
	return ru.iteration, ru.block
}

// setFinal records an answer given by FINAL or the answer dict from code.
func (ru *run) setFinal(answer string) {
	ru.mu.Lock()
	ru.final = &answer
	ru.mu.Unlock()
}

// locate finds chunk among the run's documents: first where the last chunk
// ended, then near it (chunks may overlap), then anywhere in that document,
// then in the others. It returns the document's index and the offset, or
// -1 when the chunk is not a slice of any.
func (ru *run) locate(chunk string) (doc, offset int) {
	if chunk == "" {
		return 0, -1
	}
	ru.mu.Lock()
	defer ru.mu.Unlock()
	docs := ru.spec.documents
	hintDoc := ru.hintDoc
	offset = locateIn(docs[hintDoc], chunk, ru.hintOffset)
	doc = hintDoc
	for i := 0; offset < 0 && i < len(docs); i++ {
		if i != hintDoc {
			doc, offset = i, strings.Index(docs[i], chunk)
		}
	}
	if offset < 0 {
		return 0, -1
	}
	ru.hintDoc, ru.hintOffset = doc, offset+len(chunk)
	return doc, offset
}

// locateIn finds chunk in doc, trying hint first.
func locateIn(doc, chunk string, hint int) int {
	hint = min(hint, len(doc))
	switch {
	case strings.HasPrefix(doc[hint:], chunk):
		return hint
	default:
		from := max(0, hint-len(chunk))
		if i := strings.Index(doc[from:], chunk); i >= 0 {
			return from + i
		}
		return strings.Index(doc[:min(len(doc), hint+len(chunk))], chunk)
	}
}
