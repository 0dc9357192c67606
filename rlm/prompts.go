package rlm

import (
	"fmt"
	"strings"
	"text/template"
	"unicode/utf8"
)

// The words the engine says to the models. They are our own, written from
// the protocol the RLM paper describes.

var systemPromptTemplate = template.Must(template.New("system").Parse(
	`You are the controller of a recursive language model. You answer a question about a document that is far too long for you to read. You never see the document itself. Instead you write Python code that runs in a REPL where the document is loaded, and that code asks a worker language model about pieces of it.

## The REPL

Put code in fenced blocks that open with ` + "```repl" + ` and close with ` + "```" + `. Every block in your reply runs, in order, in one persistent Python session: variables, imports and functions stay defined for later replies. After your reply you see what each block printed (stdout and stderr, cut at {{.OutputCap}} characters per block), so print what you need to know, and print summaries, not whole chunks.

Ready in the REPL:
- ` + "`context`" + `: the whole document, a str (also bound as ` + "`prompt`" + `).
- ` + "`question`" + `: the question, a str.
- ` + "`sub_call(chunk, query)`" + `: the worker reads the text ` + "`chunk`" + ` and answers ` + "`query`" + ` about it; returns the answer as a str. The worker sees only that chunk. Pass a list of chunks, ` + "`sub_call(chunks, query)`" + `, to ask about all of them in parallel: you get a list of answers in the same order.
- ` + "`llm_query(prompt)`" + `: sends any prompt to the worker and returns its answer.
- ` + "`llm_query_batched(prompts)`" + `: sends a list of prompts in parallel; returns the answers in order.
{{- if .Recursive}}
- ` + "`rlm_query(text, query)`" + `: starts a child controller like you, with its own REPL in which ` + "`context`" + ` is ` + "`text`" + `, to answer ` + "`query`" + `; returns its answer. Use it for a part of the task that itself needs code.
{{- end}}
- ` + "`SHOW_VARS()`" + `: prints the variables you have defined.
- ` + "`FINAL(answer)`" + `: submits answer as your final answer and ends the task.
- ` + "`FINAL_VAR(name)`" + `: submits the value of the variable named name, given as a string: ` + "`FINAL_VAR(\"result\")`" + `.

A sub-call that fails returns a str that starts with "Error:" instead of raising. Never rebind the names above: they are put back after every block.

## How to work

1. Look before you plan: print len(context), the first few hundred characters, and how the text is organised (lines, blank lines, headers, separators).
2. Split the document into chunks of about {{.ChunkChars}} characters, on natural boundaries such as blank lines or section markers. The worker reads that much well. Do not split finer: many small calls are slow, and facts get cut apart at chunk edges. Use as few sub-calls as the document allows.
3. Ask every chunk the same precise question that can be answered from that chunk alone, and ask for a short answer your code can combine: a number, a list, or JSON.
4. Combine the answers in Python (add counts, merge and deduplicate lists), and print what you combine so you can check it.
5. Use plain Python (str methods, re, collections) for exact work such as counting or finding names; use the worker for understanding.
6. When you are sure, call FINAL(answer) in a block, or write FINAL(answer) on a line of its own outside code. Give the answer in the form the question asks for. Never write FINAL in the same reply as code whose output you have not seen.

For example, a first step might be:
` + "```repl" + `
print(len(context))
print(context[:500])
` + "```" + `
and a later one:
` + "```repl" + `
size = {{.ChunkChars}}
chunks = [context[i:i + size] for i in range(0, len(context), size)]
answers = sub_call(chunks, "List every ... in this text, one per line, or reply 'none'.")
for i, answer in enumerate(answers):
    print(i, answer[:300])
` + "```" + `
`))

// DefaultSystemPrompt returns the controller's system prompt that [New]
// uses for the given options when [WithSystemPrompt] is not among them. It
// teaches the REPL protocol and asks for large chunks (see
// [WithChunkChars]).
func DefaultSystemPrompt(opts ...Option) string {
	cfg := defaultConfig()
	for _, opt := range opts {
		opt(&cfg)
	}
	return renderSystemPrompt(cfg, cfg.maxDepth > 1)
}

func renderSystemPrompt(cfg config, recursive bool) string {
	var b strings.Builder
	err := systemPromptTemplate.Execute(&b, struct {
		OutputCap  int
		ChunkChars int
		Recursive  bool
	}{cfg.outputCap, cfg.chunkChars, recursive})
	if err != nil {
		panic("rlm: system prompt template: " + err.Error()) // the template is ours and fixed
	}
	return b.String()
}

// firstMessage tells the controller the document's shape, never its text.
func firstMessage(document, question string, maxIterations int) string {
	lines := strings.Count(document, "\n") + 1
	if document == "" {
		lines = 0
	}
	parts := 0
	if trimmed := strings.TrimSpace(document); trimmed != "" {
		parts = strings.Count(trimmed, "\n\n") + 1
	}
	return fmt.Sprintf("The document is loaded in the REPL as `context`: a str of %d characters in %d lines "+
		"and %d blank-line-separated parts (about %d tokens). You have not seen any of it.\n\n"+
		"Question: %s\n\n"+
		"Start by looking at `context` with code. You have %d replies to reach FINAL.",
		utf8.RuneCountInString(document), lines, parts, estimateTokens(len(document)), question, maxIterations)
}

// feedbackMessage reports the blocks' output and what to do next.
func feedbackMessage(blocks []CodeBlockEvent, skipped int, finalRejected string, next string) string {
	var b strings.Builder
	for _, e := range blocks {
		writeBlockOutput(&b, e)
	}
	if skipped > 0 {
		fmt.Fprintf(&b, "%d later block(s) did not run because FINAL was called.\n\n", skipped)
	}
	if finalRejected != "" {
		fmt.Fprintf(&b, "Your FINAL was not accepted: %s\n\n", finalRejected)
	}
	b.WriteString(next)
	return b.String()
}

// continueMessage closes the feedback of an iteration that is not the last.
func continueMessage(iteration, maxIterations int) string {
	return fmt.Sprintf("That was reply %d of %d. Continue with the next step, or give FINAL(answer) once you are sure.",
		iteration, maxIterations)
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
const noCodeMessage = "Your reply had no ```repl block and no FINAL(answer). Write Python in a ```repl block " +
	"to work on `context`, or, if you are sure, give FINAL(answer).\n\n"

// finalRequest asks for an answer when the run cannot go on.
func finalRequest(reason StopReason, maxIterations int) string {
	why := fmt.Sprintf("You have used all %d replies.", maxIterations)
	switch reason {
	case StopSubCallBudget:
		why = "The sub-call budget is spent: no more worker calls can run."
	case StopWorkerTokens:
		why = "The worker's token budget is spent: no more worker calls can run."
	}
	return why + " Do not write any more code. From what you have found so far, give your final answer now, " +
		"on a line of its own, as FINAL(your answer)."
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
const childQuestionForPrompt = "Do what the text in `context` asks, and answer with FINAL."
