package rlmtest_test

import (
	"context"
	"fmt"

	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/rlmtest"
)

func ExampleReplies() {
	lm := rlmtest.Replies([]string{rlmtest.Code("print(len(context))"), "FINAL(42)"})
	for range 3 {
		c, err := lm.Complete(context.Background(), []rlm.Message{{Role: rlm.RoleUser, Content: "go on"}})
		fmt.Printf("%q %v\n", c.Text, err)
	}
	// Output:
	// "```repl\nprint(len(context))\n```" <nil>
	// "FINAL(42)" <nil>
	// "" rlmtest: script exhausted: call 3 of 2 replies
}

func ExampleBatch() {
	worker := rlmtest.Batch(rlmtest.Func(func(_ context.Context, _ int, messages []rlm.Message) (string, error) {
		return "seen: " + messages[0].Content, nil
	}))
	completions, err := worker.CompleteBatch(context.Background(), [][]rlm.Message{
		{{Role: rlm.RoleUser, Content: "chunk one"}},
		{{Role: rlm.RoleUser, Content: "chunk two"}},
	})
	fmt.Println(err)
	for _, c := range completions {
		fmt.Println(c.Text)
	}
	fmt.Println(len(worker.Batches()), "batch")
	// Output:
	// <nil>
	// seen: chunk one
	// seen: chunk two
	// 1 batch
}
