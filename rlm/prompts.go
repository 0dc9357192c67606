package rlm

import (
	"fmt"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"
)

// The words the engine says to the models. They are our own, written from
// the protocol the RLM paper and the reference implementation describe.

var systemPromptTemplate = template.Must(template.New("system").Parse(
	`You are the controller of a recursive language model. You answer a question about a document that is far too long for you to read. You never see the document itself. Instead you write Python code that runs in a REPL where the document is loaded, and that code asks a worker language model about pieces of it.

## The REPL

Put code in fenced blocks that open with ` + "```repl" + ` and close with ` + "```" + `. Every block in your reply runs, in order, in one persistent Python session: variables, imports and functions stay defined for later replies. After your reply you see what each block printed (stdout and stderr, cut at {{.OutputCap}} characters per block). As in a notebook, a block whose last line is an expression also shows that expression's value (its repr, cut the same way). Print what you need to know, and print summaries, not whole chunks.

Ready in the REPL:
- ` + "`context`" + `: the whole document, a str (also bound as ` + "`prompt`" + ` and ` + "`context_0`" + `).
- ` + "`question`" + `: the question, a str.
- ` + "`sub_call(chunk, query)`" + `: the worker reads the text ` + "`chunk`" + ` and answers ` + "`query`" + ` about it; returns the answer as a str. The worker sees only that chunk. Pass a list of chunks, ` + "`sub_call(chunks, query)`" + `, to ask about all of them in parallel: you get a list of answers in the same order.
- ` + "`llm_query(prompt)`" + `: sends any prompt to the worker and returns its answer.
- ` + "`llm_query_batched(prompts)`" + `: sends a list of prompts in parallel; returns the answers in order.
- ` + "`llm_query_async(prompt)`" + ` and ` + "`sub_call_async(chunk, query)`" + `: start a worker call in the background and return a handle at once, so that your code can go on; ` + "`handle.result()`" + ` waits for the answer, ` + "`handle.done()`" + ` says whether it is ready, ` + "`handle.cancel()`" + ` stops it, and ` + "`wait_all(handles)`" + ` waits for many and returns their answers in order. A list of chunks gives a list of handles. Calls in flight at the same time are decoded together.
{{- if .Recursive}}
- ` + "`rlm_query(text, query)`" + `: starts a child controller like you, with its own REPL in which ` + "`context`" + ` is ` + "`text`" + `, to answer ` + "`query`" + `; returns its answer. Use it for a part of the task that itself needs code. ` + "`rlm_query_batched(texts, query)`" + ` starts one child per text, in parallel, and returns their answers in order.
{{- end}}
{{- if gt (len .Workers) 1}}
- Every function that calls a worker takes ` + "`model=`" + ` to choose one: {{range $i, $w := .Workers}}{{if $i}}, {{end}}` + "`\"{{$w.Name}}\"`" + `{{end}}. Without it, ` + "`\"{{(index .Workers 0).Name}}\"`" + ` answers.
{{- end}}
- ` + "`SHOW_VARS()`" + `: prints the variables you have defined.
{{- if .AnswerDict}}
- ` + "`answer`" + `: a dict, ` + "`{\"content\": \"\", \"ready\": False}`" + `. To submit your final answer, set ` + "`answer[\"content\"]`" + ` to it and then ` + "`answer[\"ready\"] = True`" + ` in a block; the task ends after that block, with str(answer["content"]) as the answer.
{{- else}}
- ` + "`FINAL(answer)`" + `: submits str(answer) as your final answer and ends the task.
- ` + "`FINAL_VAR(x)`" + `: submits the value of a variable, named in a string, ` + "`FINAL_VAR(\"result\")`" + `, or given itself, ` + "`FINAL_VAR(result)`" + `.
{{- end}}

A sub-call that fails returns a str that starts with "Error:" instead of raising. Never rebind the names above: they are put back after every block.

## Budgets

- You have {{.MaxIterations}} replies.
- {{if .SubCallBudget}}You may make at most {{.SubCallBudget}} sub-calls in all{{if .Recursive}}, child controllers and their calls included{{end}}; calls past that return an "Error:" string.{{else}}Sub-calls have no fixed limit, but each one takes time.{{end}}
{{- range .Workers}}{{if or .FitChars .Batch}}
- The worker ` + "`\"{{.Name}}\"`" + `{{if .FitChars}} reads at most about {{.FitChars}} characters in one call (its context holds {{.ContextTokens}} tokens, prompt and answer together){{end}}{{if .Batch}}{{if .FitChars}}, and{{end}} decodes up to {{.Batch}} calls at once: a batch of {{.Batch}} takes about as long as one call{{end}}.
{{- end}}{{end}}
{{- if .WorkerTokens}}
- The workers may read and write {{.WorkerTokens}} tokens in all; calls past that return an "Error:" string.
{{- end}}
{{- if .TimeLimit}}
- The task stops after {{.TimeLimit}}.
{{- end}}
After each step you are told what is left.

## How to work

1. Look before you plan: print len(context), the first two thousand characters and a piece of the middle, and find how the text is organised (lines, blank lines, headers, separators), past any preamble at its start.
2. Split the document into chunks of about {{.ChunkChars}} characters, on natural boundaries such as blank lines or section markers. The worker reads that much well. Do not split finer: many small calls are slow, and facts get cut apart at chunk edges. Use as few sub-calls as the document allows.
3. Ask every chunk the same precise question that can be answered from that chunk alone, and ask for a short answer your code can combine: a number, a list, or JSON.
4. Combine the answers in Python (add counts, merge and deduplicate lists), and print what you combine so you can check it.
5. Use plain Python (str methods, re, collections) for exact work such as counting or finding names; use the worker for understanding.
6. When you are sure, {{if .AnswerDict}}set ` + "`answer[\"content\"]`" + ` and ` + "`answer[\"ready\"] = True`" + ` in a block{{else}}call FINAL(answer) in a block, or write FINAL(answer) on a line of its own outside code{{end}}. Give the answer in the form the question asks for. Never submit in the same reply as code whose output you have not seen.
{{- if .Preamble}}

## The task

{{.Preamble}}
{{- end}}

For example, a first step might be:
` + "```repl" + `
print(context[:2000])
print(context[len(context) // 2:len(context) // 2 + 1000])
len(context)
` + "```" + `
and a later one:
` + "```repl" + `
size = {{.ChunkChars}}
chunks = [context[i:i + size] for i in range(0, len(context), size)]
answers = sub_call(chunks, "List every ... in this text, one per line, or reply 'none'.")
for i, a in enumerate(answers):
    print(i, a[:300])
` + "```" + `
and, once the output shows the result:
` + "```repl" + `
{{- if .AnswerDict}}
answer["content"] = result
answer["ready"] = True
{{- else}}
FINAL(result)
{{- end}}
` + "```" + `
`))

// promptWorker is what the system prompt says about one worker.
type promptWorker struct {
	Name          string
	ContextTokens int
	FitChars      int
	Batch         int
}

// DefaultSystemPrompt returns the controller's system prompt that [New]
// uses for the given options when [WithSystemPrompt] is not among them. It
// teaches the REPL, the protocol ([WithProtocol]) and the budgets, and
// asks for large chunks (see [WithChunkChars]). Workers added with
// [WithWorker] are listed with their limits when they report them
// ([LimitedLM]).
func DefaultSystemPrompt(opts ...Option) string {
	cfg := defaultConfig()
	for _, opt := range opts {
		opt(&cfg)
	}
	workers := map[string]LM{}
	for _, w := range cfg.workers {
		workers[w.name] = w.lm
	}
	return renderSystemPrompt(cfg, workers, DefaultWorker, cfg.maxDepth > 1)
}

// charsPerTokenFloor is a conservative characters-per-token ratio for
// sizing chunks: English prose averages about four, transcripts with names
// and numbers less.
const charsPerTokenFloor = 3

// fitChars is how many characters of a chunk fit a worker's context,
// leaving room for the reply and the sub-call's framing; 0 when unknown.
func fitChars(l Limits) int {
	if l.ContextTokens <= 0 {
		return 0
	}
	room := l.ContextTokens - l.ReplyTokens - 200
	return max(room, 100) * charsPerTokenFloor
}

// renderSystemPrompt writes the prompt for a run whose default worker is
// named first; workers maps every worker's name to its model.
func renderSystemPrompt(cfg config, workers map[string]LM, first string, recursive bool) string {
	names := []string{first}
	if first != DefaultWorker {
		names = append(names, DefaultWorker)
	}
	for _, w := range cfg.workers {
		if w.name != first {
			names = append(names, w.name)
		}
	}
	chunk := cfg.chunkChars
	list := make([]promptWorker, len(names))
	for i, name := range names {
		l := limitsOf(workers[name])
		list[i] = promptWorker{Name: name, ContextTokens: l.ContextTokens, FitChars: fitChars(l)}
		if l.Batch > 0 {
			list[i].Batch = min(l.Batch, cfg.concurrency)
		}
		if i == 0 && list[i].FitChars > 0 {
			chunk = min(chunk, list[i].FitChars)
		}
	}
	var timeLimit string
	if cfg.timeLimit > 0 {
		timeLimit = cfg.timeLimit.String()
	}
	var b strings.Builder
	err := systemPromptTemplate.Execute(&b, struct {
		OutputCap, ChunkChars, MaxIterations int
		SubCallBudget, WorkerTokens          int
		TimeLimit                            string
		Recursive, AnswerDict                bool
		Workers                              []promptWorker
		Preamble                             string
	}{cfg.outputCap, chunk, cfg.maxIterations, cfg.subCallBudget, cfg.workerTokens, timeLimit,
		recursive, cfg.protocol != ProtocolFinal, list, strings.TrimSpace(cfg.preamble)})
	if err != nil {
		panic("rlm: system prompt template: " + err.Error()) // the template is ours and fixed
	}
	return b.String()
}

// firstMessage tells the controller the documents' shape, never their
// text (but for what a document header option shows), and the question.
func (ru *run) firstMessage(restarted bool) string {
	var b strings.Builder
	docs := ru.spec.documents
	if len(docs) == 1 {
		fmt.Fprintf(&b, "The document is loaded in the REPL as `context`: %s. You have not seen any of it.", describe(docs[0]))
		ru.writeHeader(&b, docs[0])
	} else {
		fmt.Fprintf(&b, "%d documents are loaded in the REPL as `context_0` to `context_%d` (`context` is `context_0`). You have not seen any of them.", len(docs), len(docs)-1)
		for i, doc := range docs {
			fmt.Fprintf(&b, "\n- `context_%d`: %s.", i, describe(doc))
			ru.writeHeader(&b, doc)
		}
	}
	fmt.Fprintf(&b, "\n\nQuestion: %s\n\n", ru.spec.question)
	if ru.spec.session {
		switch n := len(ru.spec.history); {
		case restarted:
			b.WriteString("The Python process was restarted since the last question: the documents are bound again, but the variables you defined for earlier questions are lost. ")
		case n > 0 && !ru.cfg.independent:
			fmt.Fprintf(&b, "This session has answered %d earlier question(s): `history` lists them, as dicts with \"question\", \"answer\" and \"final\". The variables you defined for them are still there (SHOW_VARS() lists them). ", n)
		}
	}
	fmt.Fprintf(&b, "Start by looking at `context` with code. You have %d replies to give your answer: %s.",
		ru.cfg.maxIterations, ru.cfg.protocol.howToAnswer())
	return b.String()
}

// describe gives a document's size and shape.
func describe(document string) string {
	lines := strings.Count(document, "\n") + 1
	if document == "" {
		lines = 0
	}
	parts := 0
	if trimmed := strings.TrimSpace(document); trimmed != "" {
		parts = strings.Count(trimmed, "\n\n") + 1
	}
	return fmt.Sprintf("a str of %d characters in %d lines and %d blank-line-separated parts (about %d tokens)",
		utf8.RuneCountInString(document), lines, parts, estimateTokens(len(document)))
}

// writeHeader shows what the document header option returns for doc.
func (ru *run) writeHeader(b *strings.Builder, doc string) {
	if ru.cfg.header == nil {
		return
	}
	if header := ru.cfg.header(doc); header != "" {
		fmt.Fprintf(b, " It begins:\n<<<\n%s\n>>>", header)
	}
}

// feedbackMessage reports the blocks' output and what to do next.
func feedbackMessage(blocks []CodeBlockEvent, skipped int, finalRejected string, next string) string {
	var b strings.Builder
	for _, e := range blocks {
		writeBlockOutput(&b, e)
	}
	if skipped > 0 {
		fmt.Fprintf(&b, "%d later block(s) did not run because the answer was submitted.\n\n", skipped)
	}
	if finalRejected != "" {
		fmt.Fprintf(&b, "Your FINAL was not accepted: %s\n\n", finalRejected)
	}
	b.WriteString(next)
	return b.String()
}

// continueMessage closes the feedback of an iteration that is not the last.
func (ru *run) continueMessage(iteration int) string {
	return fmt.Sprintf("That was reply %d of %d. Left: %s. Continue with the next step, or give your answer once you are sure.",
		iteration, ru.cfg.maxIterations, ru.left(iteration))
}

// left says what remains of the budgets after iteration replies.
func (ru *run) left(iteration int) string {
	parts := []string{plural(ru.cfg.maxIterations-iteration, "reply", "replies")}
	b := ru.t.budget
	b.mu.Lock()
	if b.subCallLimit > 0 {
		parts = append(parts, plural(max(b.subCallLimit-b.subCalls, 0), "sub-call", "sub-calls"))
	}
	if b.workerLimit > 0 {
		parts = append(parts, fmt.Sprintf("%d worker tokens", max(b.workerLimit-b.workerTokens, 0)))
	}
	if b.controllerLimit > 0 {
		parts = append(parts, fmt.Sprintf("%d of your tokens", max(b.controllerLimit-b.controllerTokens, 0)))
	}
	b.mu.Unlock()
	if !ru.t.deadline.IsZero() {
		parts = append(parts, max(time.Until(ru.t.deadline), 0).Round(time.Second).String())
	}
	return strings.Join(parts, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func writeBlockOutput(b *strings.Builder, e CodeBlockEvent) {
	fmt.Fprintf(b, "Block %d ran in %s", e.Block, formatDuration(e.Duration))
	if e.Stdout == "" && e.Stderr == "" && e.Exception == nil {
		b.WriteString(" and printed nothing.\n")
	} else {
		b.WriteString(".\n")
	}
	if e.Stdout != "" {
		fmt.Fprintf(b, "stdout:\n%s\n", strings.TrimRight(e.Stdout, "\n"))
	}
	if e.Stderr != "" {
		fmt.Fprintf(b, "stderr:\n%s\n", strings.TrimRight(e.Stderr, "\n"))
	}
	if e.Exception != nil {
		if e.Exception.Traceback != "" {
			fmt.Fprintf(b, "exception:\n%s\n", strings.TrimRight(e.Exception.Traceback, "\n"))
		} else {
			fmt.Fprintf(b, "exception: %s: %s\n", e.Exception.Type, e.Exception.Message)
		}
	}
	if e.Truncated {
		b.WriteString("(output was cut: print less at once)\n")
	}
	if len(e.Changed) > 0 {
		fmt.Fprintf(b, "variables set: %s\n", strings.Join(e.Changed, ", "))
	}
	if len(e.Restored) > 0 {
		fmt.Fprintf(b, "restored: %s (these names are reserved; store your own values under other names)\n",
			strings.Join(e.Restored, ", "))
	}
	if e.Restarted {
		b.WriteString("the Python process was restarted: variables defined earlier are lost\n")
	}
	b.WriteString("\n")
}

// noCodeMessage answers a reply that had neither code nor a final answer.
func (ru *run) noCodeMessage() string {
	return "Your reply had no ```repl block and no final answer. Write Python in a ```repl block " +
		"to work on `context`, or, if you are sure, give your answer: " + ru.cfg.protocol.howToAnswer() + ".\n\n"
}

// finalRequest asks for an answer when the run cannot go on.
func (ru *run) finalRequest(reason StopReason) string {
	why := fmt.Sprintf("You have used all %d replies.", ru.cfg.maxIterations)
	switch reason {
	case StopSubCallBudget:
		why = "The sub-call budget is spent: no more worker calls can run."
	case StopWorkerTokens:
		why = "The worker's token budget is spent: no more worker calls can run."
	}
	if ru.cfg.protocol == ProtocolFinal {
		return why + " Do not write any more code. From what you have found so far, give your final answer now, " +
			"on a line of its own, as FINAL(your answer)."
	}
	return why + " Do not start new work. From what you have found so far, give your final answer now: " +
		"one ```repl block that sets answer[\"content\"] and answer[\"ready\"] = True."
}

// summaryRequest asks the controller to summarise its work before its
// conversation is compacted.
const summaryRequest = "Your conversation is about to be shortened to fit your context window: " +
	"everything after the question will be replaced by a summary you write now. " +
	"Write that summary, in prose, without code: what you have found so far (exact numbers, names, " +
	"and the names of the REPL variables that hold results), which steps are done and which remain, " +
	"and your next step. Be brief, but keep every result you will need."

// compactedNote follows the summary in the compacted conversation.
func compactedNote(times int) string {
	return fmt.Sprintf("Your conversation was compacted (%s so far): the summary above replaces your earlier "+
		"replies and their outputs. The REPL still holds every variable (SHOW_VARS() lists them). "+
		"Do not repeat finished work. Your latest reply and its output follow.", plural(times, "time", "times"))
}

// workerSystemPrompt frames the worker's task for sub_call.
const workerSystemPrompt = "You answer a question about a piece of text. Use only that text. " +
	"If the text does not contain the answer, say so in a few words. " +
	"Answer concisely, with the answer itself and no preamble."

// subCallMessages is the conversation sub_call(chunk, query) sends.
func subCallMessages(chunk, query string) []Message {
	return []Message{
		{Role: RoleSystem, Content: workerSystemPrompt},
		{Role: RoleUser, Content: "Text:\n\"\"\"\n" + chunk + "\n\"\"\"\n\nQuestion: " + query},
	}
}

// promptMessages is the conversation llm_query(prompt) sends.
func promptMessages(prompt string) []Message {
	return []Message{{Role: RoleUser, Content: prompt}}
}

// childQuestionForPrompt is the question of a child RLM started with a
// single argument: the text itself says what to do.
const childQuestionForPrompt = "Do what the text in `context` asks, and give your answer."
