package repl_test

import (
	"context"
	"fmt"
	"log"
	"strconv"
	"strings"

	"github.com/go-rlm/rlm/repl"
)

// The seed's pattern: the document is a variable, and Python hands chunks of
// it to a Go function.
func Example() {
	ctx := context.Background()
	subCall := func(_ context.Context, args []any, _ map[string]any) (any, error) {
		chunk := args[0].(string)
		return strconv.Itoa(strings.Count(chunk, "rolls")), nil
	}
	r, err := repl.Start(ctx, repl.WithFunc("sub_call", subCall))
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	doc := "Matt: Travis rolls.\nTravis: 17.\nMatt: Laura rolls.\nLaura: 3.\n"
	if err := r.Set(ctx, "context", doc); err != nil {
		log.Fatal(err)
	}
	res, err := r.Exec(ctx, `
total = 0
for line in context.splitlines():
    total += int(sub_call(line, "Count the dice rolls"))
print(f"Total rolls: {total}")
`)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(res.Stdout)
	fmt.Println(res.Changed)
	// Output:
	// Total rolls: 2
	// [line total]
}

// A Python exception is part of the result, with the traceback the model
// needs to fix its code.
func ExampleREPL_Exec_exception() {
	ctx := context.Background()
	r, err := repl.Start(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	res, err := r.Exec(ctx, "counts = {'a': 1}\nprint(counts['b'])")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Exception.Type, res.Exception.Message)
	tb := strings.Split(strings.TrimSpace(res.Exception.Traceback), "\n")
	fmt.Println(tb[0])
	fmt.Println(tb[1])
	fmt.Println(tb[len(tb)-1])
	// Output:
	// KeyError 'b'
	// Traceback (most recent call last):
	//   File "<cell 1>", line 2, in <module>
	// KeyError: 'b'
}

// Batched calls run concurrently in Go and come back in order.
func ExampleWithBatchFunc() {
	ctx := context.Background()
	query := func(_ context.Context, item any) (any, error) {
		return strings.ToUpper(item.(string)), nil
	}
	r, err := repl.Start(ctx, repl.WithBatchFunc("llm_query_batched", 16, query))
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	res, err := r.Exec(ctx, "print(llm_query_batched(['spells', 'rolls', 'damage']))")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(res.Stdout)
	// Output: ['SPELLS', 'ROLLS', 'DAMAGE']
}

// The rlm package's pattern for FINAL_VAR: Python helpers defined in a
// prelude on top of a host function, and Get to read a variable named in
// the model's answer.
func ExampleWithPrelude() {
	ctx := context.Background()
	var final string
	setFinal := func(_ context.Context, args []any, _ map[string]any) (any, error) {
		final = args[0].(string)
		return nil, nil
	}
	r, err := repl.Start(ctx,
		repl.WithFunc("_set_final", setFinal),
		repl.WithPrelude("def FINAL_VAR(name):\n    _set_final(str(globals()[name]))"))
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	res, err := r.Exec(ctx, "answer = sum([3, 4, 5])\nFINAL_VAR('answer')\nFINAL_VAR = None")
	if err != nil {
		log.Fatal(err)
	}
	v, err := r.Get(ctx, "answer")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(final, v, res.Restored)
	// Output: 12 12 [FINAL_VAR]
}
