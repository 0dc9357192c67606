package trace_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-rlm/rlm/interp/export"
	"github.com/go-rlm/rlm/interp/trace"
	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/llama/llamatest"
	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/local"
	"github.com/go-rlm/rlm/rlm/rlmtest"
)

// Trace an RLM run whose code sends two chunks of a document to a local
// worker (a generated model, held to one-digit answers by a grammar), then
// read the trace back.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "trace-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "worker.gguf")
	if err := llamatest.WriteModel(path, llamatest.DefaultConfig()); err != nil {
		log.Fatal(err)
	}
	m, err := llama.LoadModel(ctx, path)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	tr, err := trace.New(filepath.Join(dir, "traces")) // the residual stream after every layer
	if err != nil {
		log.Fatal(err)
	}
	worker, err := local.New(m, local.WithThreads(2), local.WithSequenceSize(1024), local.WithMaxTokens(3),
		local.WithSampling(llama.Sampling{Grammar: `root ::= [1-9]`}), local.WithGenerationHook(tr.GenerationHook()))
	if err != nil {
		log.Fatal(err)
	}
	defer worker.Close()
	// The controller is scripted: a random model cannot write code.
	controller := rlmtest.Replies([]string{
		rlmtest.Code(`counts = sub_call([prompt[:60], prompt[60:]], "How many dice rolls?")`),
		rlmtest.Code(`FINAL(counts[0])`),
	})
	engine, err := rlm.New(controller, worker, rlm.WithObserver(tr.Observer()), rlm.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	doc := strings.Repeat("Matt: Roll for initiative. Laura: 17. Travis: natural 20!\n", 2)
	if _, err := engine.Run(ctx, doc, "How many dice rolls are there?"); err != nil {
		log.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		log.Fatal(err)
	}

	file := tr.Files()[0]
	fmt.Println(filepath.Base(file))
	subCalls, err := trace.ReadSubCalls(ctx, file)
	if err != nil {
		log.Fatal(err)
	}
	for _, sc := range subCalls {
		fmt.Printf("sub-call %d: chunk at byte %d, %d prompt tokens, %q\n", sc.ID, sc.Offset, len(sc.Prompt), sc.Query)
	}
	f, err := os.Open(file)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	rows := map[string]int{}
	err = export.ReadParquet(ctx, f, func(r *export.Row) error {
		rows[fmt.Sprintf("sub-call %d %s", r.Sequence, trace.Field(r, "position_kind"))]++
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rows)
	// Output:
	// run-001.parquet
	// sub-call 1: chunk at byte 0, 321 prompt tokens, "How many dice rolls?"
	// sub-call 2: chunk at byte 60, 317 prompt tokens, "How many dice rolls?"
	// map[sub-call 1 generated:4 sub-call 1 prompt_last:4 sub-call 2 generated:4 sub-call 2 prompt_last:4]
}
