package rlm_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/rlmtest"
)

// A scripted controller explores the document, has the worker read each
// chunk, and adds the worker's counts up. Real models plug in the same way.
func Example() {
	document := strings.Repeat("Laura: I roll a 17.\nSam: Natural 20!\n", 3)

	controller := rlmtest.Replies([]string{
		"Let me look first.\n" + rlmtest.Code(`print(len(context), context[:20])`),
		rlmtest.Code(`
chunks = context.split("\n")[:-1]
counts = sub_call(chunks, "How many dice rolls are reported? Answer with a number.")
print(counts)
FINAL(sum(int(c) for c in counts))`),
	})
	worker := rlmtest.Func(func(ctx context.Context, _ int, messages []rlm.Message) (string, error) {
		return "1", nil // every line of this document reports one roll
	})

	r, err := rlm.New(controller, worker, rlm.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	res, err := r.Run(context.Background(), document, "How many dice rolls are there?")
	if err != nil {
		panic(err)
	}
	fmt.Println("answer:", res.Answer, "final:", res.Final, "stop:", res.Stop)
	fmt.Println("iterations:", res.Stats.Iterations, "sub-calls:", res.Stats.SubCalls)
	// Output:
	// answer: 6 final: true stop: final
	// iterations: 2 sub-calls: 6
}

// An observer sees every sub-call with its place in the document.
func ExampleObserver() {
	document := "alpha beta gamma delta"
	controller := rlmtest.Replies([]string{
		rlmtest.Code(`words = sub_call([context[0:10], context[11:22]], "Repeat the text.")`),
		"FINAL(done)",
	})
	worker := rlmtest.Func(func(ctx context.Context, _ int, messages []rlm.Message) (string, error) {
		info, _ := rlm.SubCallFromContext(ctx)
		return document[info.Offset : info.Offset+info.Length], nil
	})
	var events []rlm.SubCallEvent
	r, err := rlm.New(controller, worker,
		rlm.WithLogger(slog.New(slog.DiscardHandler)),
		rlm.WithConcurrency(1), // one at a time, so that events arrive in order
		rlm.WithObserver(rlm.Observer{SubCall: func(e rlm.SubCallEvent) { events = append(events, e) }}))
	if err != nil {
		panic(err)
	}
	if _, err := r.Run(context.Background(), document, "What are the words?"); err != nil {
		panic(err)
	}
	for _, e := range events {
		fmt.Printf("call %d: depth %d, offset %d, length %d, answer %q\n", e.ID, e.Depth, e.Offset, e.Length, e.Answer)
	}
	// Output:
	// call 1: depth 1, offset 0, length 10, answer "alpha beta"
	// call 2: depth 1, offset 11, length 11, answer "gamma delta"
}

// A trajectory written as JSONL reads back into the same Go types, and
// renders as an HTML page.
func ExampleReadTrajectory() {
	var jsonl bytes.Buffer
	controller := rlmtest.Replies([]string{rlmtest.Code(`x = 2 + 2`), "FINAL_VAR(x)"})
	r, err := rlm.New(controller, nil,
		rlm.WithLogger(slog.New(slog.DiscardHandler)), rlm.WithTrajectory(&jsonl))
	if err != nil {
		panic(err)
	}
	if _, err := r.Run(context.Background(), "some document", "What is 2 + 2?"); err != nil {
		panic(err)
	}

	traj, err := rlm.ReadTrajectory(&jsonl)
	if err != nil {
		panic(err)
	}
	for _, rec := range traj.Records {
		fmt.Println(rec.Type)
	}
	res, _ := traj.Result()
	fmt.Println("answer:", res.Answer)

	var page bytes.Buffer
	if err := traj.WriteHTML(&page); err != nil {
		panic(err)
	}
	fmt.Println(strings.HasPrefix(page.String(), "<!DOCTYPE html>"))
	// Output:
	// run_start
	// code_block
	// iteration
	// iteration
	// run_end
	// answer: 4
	// true
}

// A wrapper around the worker learns which sub-call each completion
// belongs to, for example to attribute captured activations to the chunk
// of the document the worker read.
func ExampleSubCallFromContext() {
	worker := rlmtest.Func(func(ctx context.Context, _ int, _ []rlm.Message) (string, error) {
		if info, ok := rlm.SubCallFromContext(ctx); ok {
			return fmt.Sprintf("I am sub-call %d (%s) at offset %d", info.ID, info.Kind, info.Offset), nil
		}
		return "no sub-call", nil
	})
	ctx := rlm.ContextWithSubCall(context.Background(), rlm.SubCallInfo{ID: 7, Depth: 1, Kind: rlm.KindSubCall, Offset: 4096})
	c, _ := worker.Complete(ctx, nil)
	fmt.Println(c.Text)
	// Output:
	// I am sub-call 7 (sub_call) at offset 4096
}

// A session answers several questions with one REPL: the document is bound
// once, and what the code computed for one question is there for the next.
func ExampleRLM_NewSession() {
	document := "Laura: 17.\nSam: 20.\nTaliesin: 12.\n"
	controller := rlmtest.Func(func(_ context.Context, _ int, messages []rlm.Message) (string, error) {
		switch {
		case strings.Contains(messages[1].Content, "Question: Who rolls?"):
			return rlmtest.Code(`
rolls = dict(line.split(": ") for line in context.splitlines())
answer["content"] = ", ".join(rolls)
answer["ready"] = True`), nil
		default: // the second question reuses `rolls` and reads `history`
			return rlmtest.Code(`
answer["content"] = "%s rolled highest (after %d question)" % (max(rolls, key=lambda k: int(rolls[k][:-1])), len(history))
answer["ready"] = True`), nil
		}
	})
	r, err := rlm.New(controller, nil, rlm.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	session, err := r.NewSession(context.Background(), document)
	if err != nil {
		panic(err)
	}
	defer session.Close()
	for _, q := range []string{"Who rolls?", "Who rolled highest?"} {
		res, err := session.Ask(context.Background(), q)
		if err != nil {
			panic(err)
		}
		fmt.Println(res.Answer)
	}
	fmt.Println("REPL starts:", session.Stats().REPLStarts)
	// Output:
	// Laura, Sam, Taliesin
	// Sam rolled highest (after 1 question)
	// REPL starts: 1
}

// Code chooses a worker by name; the worker given to New is "default".
func ExampleWithWorker() {
	small := rlmtest.Func(func(context.Context, int, []rlm.Message) (string, error) { return "small says hi", nil })
	large := rlmtest.Func(func(context.Context, int, []rlm.Message) (string, error) { return "large says hi", nil })
	controller := rlmtest.Replies([]string{
		rlmtest.Code(`print(llm_query("hi"), "/", llm_query("hi", model="large"))`),
		"FINAL(done)",
	})
	r, err := rlm.New(controller, small, rlm.WithWorker("large", large),
		rlm.WithProtocol(rlm.ProtocolFinal), rlm.WithLogger(slog.New(slog.DiscardHandler)),
		rlm.WithObserver(rlm.Observer{CodeBlock: func(e rlm.CodeBlockEvent) { fmt.Print(e.Stdout) }}))
	if err != nil {
		panic(err)
	}
	res, err := r.Run(context.Background(), "a document", "Say hi.")
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Stats.Workers["default"].Calls, res.Stats.Workers["large"].Calls)
	// Output:
	// small says hi / large says hi
	// 1 1
}
