package repl_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/repl"
)

func noop(context.Context, []any, map[string]any) (any, error) { return "ok", nil }

// BenchmarkHostCallRoundTrip measures one call from Python into Go and back
// (the cost of each sub_call beyond the model itself).
func BenchmarkHostCallRoundTrip(b *testing.B) {
	r := start(b, repl.WithFunc("noop", noop))
	run(b, r, "def loop(n):\n    for _ in range(n):\n        noop('chunk', 'query')")
	b.ResetTimer()
	run(b, r, fmt.Sprintf("loop(%d)", b.N))
}

// BenchmarkHostCall50KBChunk is the seed's sub_call: a 50,000-character
// chunk goes to Go and a short answer comes back.
func BenchmarkHostCall50KBChunk(b *testing.B) {
	r := start(b, repl.WithFunc("sub_call", noop))
	require.NoError(b, r.Set(context.Background(), "context", strings.Repeat("Matt: Roll for initiative. ", 2000)))
	run(b, r, "chunk = context[:50000]\ndef loop(n):\n    for _ in range(n):\n        sub_call(chunk, 'Count all dice rolls in this section')")
	b.SetBytes(50_000)
	b.ResetTimer()
	run(b, r, fmt.Sprintf("loop(%d)", b.N))
}

// BenchmarkExecTrivialCell measures a cell that does almost nothing.
func BenchmarkExecTrivialCell(b *testing.B) {
	r := start(b)
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		if _, err := r.Exec(ctx, "x = 1"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSetDocument5MB measures binding a 5 MB document.
func BenchmarkSetDocument5MB(b *testing.B) {
	doc := strings.Repeat("Matt: Roll for initiative.\nLaura: I rolled a 17.\n", 5<<20/48)
	r := start(b)
	ctx := context.Background()
	b.SetBytes(int64(len(doc)))
	b.ResetTimer()
	for range b.N {
		if err := r.Set(ctx, "context", doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStart measures starting a REPL (interpreter already probed) and
// closing it.
func BenchmarkStart(b *testing.B) {
	ctx := context.Background()
	r, err := repl.Start(ctx)
	require.NoError(b, err)
	require.NoError(b, r.Close())
	b.ResetTimer()
	for range b.N {
		r, err := repl.Start(ctx, repl.WithFunc("sub_call", noop))
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
