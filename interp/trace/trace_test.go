package trace_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/interp"
	"github.com/go-rlm/rlm/interp/export"
	"github.com/go-rlm/rlm/interp/trace"
	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/llama/llamatest"
	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/local"
	"github.com/go-rlm/rlm/rlm/rlmtest"
)

// tracedHooks are the hook points TestTraceEndToEnd records: the residual
// stream after every layer and a derived point.
var tracedHooks = []string{"blocks.*.hook_resid_post", "blocks.2.hook_attn_out"}

// integerGrammar keeps a random model's answers parseable as integers.
var integerGrammar = llama.Sampling{Grammar: `root ::= [1-9] [0-9]?`}

const maxTokens = 3

func loadModel(t testing.TB) *llama.Model {
	t.Helper()
	m, err := llama.LoadModel(context.Background(), llamatest.Model(t, llamatest.DefaultConfig()))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })
	return m
}

func newWorker(t testing.TB, m *llama.Model, tr *trace.Tracer) *local.LM {
	t.Helper()
	lm, err := local.New(m, local.WithThreads(2), local.WithSequenceSize(1024), local.WithMaxTokens(maxTokens),
		local.WithSampling(integerGrammar), local.WithGenerationHook(tr.GenerationHook()))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, lm.Close()) })
	return lm
}

// document is a transcript-like text of 1,160 bytes.
var document = strings.Repeat("Matt: Roll for initiative. Laura: 17. Travis: natural 20!\n", 20)

// runRLM runs a scripted controller whose code makes a batch of three
// sub-calls over the first 600 bytes, then a single one, over the real REPL
// and the traced worker.
func runRLM(t *testing.T, worker rlm.LM, tr *trace.Tracer) rlm.Result {
	t.Helper()
	code := `
counts = sub_call([prompt[i:i+200] for i in range(0, 600, 200)], "How many dice rolls?")
who = sub_call(prompt[600:800], "Who rolled a natural 20?")
print(counts, who)
`
	controller := rlmtest.Replies([]string{rlmtest.Code(code), rlmtest.Code("FINAL(counts[0])")})
	engine, err := rlm.New(controller, worker, rlm.WithObserver(tr.Observer()))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := engine.Run(ctx, document, "How many dice rolls are there?")
	require.NoError(t, err)
	require.True(t, res.Final)
	return res
}

// readRows reads every row of a trace file, copied.
func readRows(t *testing.T, path string) []export.Row {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var rows []export.Row
	require.NoError(t, export.ReadParquet(context.Background(), f, func(r *export.Row) error {
		c := *r
		c.Values = append([]float32(nil), r.Values...)
		c.Extra = append([]any(nil), r.Extra...)
		rows = append(rows, c)
		return nil
	}))
	return rows
}

// column returns a row's value of a trace column.
func column(r export.Row, name string) any { return trace.Field(&r, name) }

// TestTraceEndToEnd traces an RLM run with a scripted controller, the real
// REPL and the real local worker on a generated model, and checks that
// every sub-call's rows are in the run's file with the right ids, offsets,
// queries, answers, positions and tokens, and that their values equal a
// direct capture of the same tokens.
func TestTraceEndToEnd(t *testing.T) {
	m := loadModel(t)
	dir := t.TempDir()
	tr, err := trace.New(dir, trace.WithHooks(tracedHooks...))
	require.NoError(t, err)
	res := runRLM(t, newWorker(t, m, tr), tr)
	require.NoError(t, tr.Close())
	require.NoError(t, tr.Err())
	assert.Equal(t, 4, res.Stats.SubCalls)

	files := tr.Files()
	require.Len(t, files, 1)
	assert.Equal(t, filepath.Join(dir, "run-001.parquet"), files[0])
	rows := readRows(t, files[0])
	hooks := tracedHooks

	subCalls := tr.SubCalls()
	require.Len(t, subCalls, 4)
	for i, sc := range subCalls {
		assert.Equal(t, rlm.KindSubCall, sc.Kind)
		assert.Equal(t, 1, sc.Depth)
		assert.Regexp(t, `^[1-9][0-9]?$`, sc.Answer)
		require.NotEmpty(t, sc.Prompt, "sub-call %d", sc.ID)
		// The worker read the chunk: the prompt holds it.
		prompt, err := m.Detokenize(sc.Prompt, false, true)
		require.NoError(t, err)
		chunk := document[sc.Offset : sc.Offset+sc.Length]
		assert.Contains(t, prompt, chunk, "sub-call %d", sc.ID)
		assert.Contains(t, prompt, sc.Query)
		// The answer's tokens read back spell the start of the answer.
		generated, err := m.Detokenize(sc.Generated, false, false)
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(sc.Answer, generated), "%q then %q", generated, sc.Answer)
		assert.GreaterOrEqual(t, len(sc.Generated), len(sc.Answer)-1)
		if i < 3 {
			assert.Equal(t, "How many dice rolls?", sc.Query)
			assert.Equal(t, i*200, sc.Offset)
		} else {
			assert.Equal(t, "Who rolled a natural 20?", sc.Query)
			assert.Equal(t, 600, sc.Offset)
		}
	}

	// Every row belongs to a sub-call and says so in its columns.
	bySubCall := map[int64][]export.Row{}
	for _, r := range rows {
		bySubCall[r.Sequence] = append(bySubCall[r.Sequence], r)
	}
	require.Len(t, bySubCall, 4, "every sub-call has rows")
	points := []string{"blocks.0.hook_resid_post", "blocks.1.hook_resid_post", "blocks.2.hook_resid_post",
		"blocks.3.hook_resid_post", "blocks.2.hook_attn_out"}
	for _, sc := range subCalls {
		got := bySubCall[sc.ID]
		positions := 1 + len(sc.Generated) // the last prompt token, then the answer read back
		assert.Len(t, got, len(points)*positions, "sub-call %d: one row per hook point and position", sc.ID)
		seen := map[string]bool{}
		for _, r := range got {
			assert.Equal(t, "run-001", r.Run)
			assert.Equal(t, int64(sc.Offset), column(r, "chunk_offset"))
			assert.Equal(t, int64(sc.Length), column(r, "chunk_length"))
			assert.Equal(t, int64(1), column(r, "depth"))
			assert.Equal(t, sc.Query, column(r, "query"))
			assert.Equal(t, sc.Answer, column(r, "answer"))
			assert.Nil(t, column(r, "error"))
			assert.Equal(t, int64(len(sc.Prompt)), column(r, "prompt_tokens"))
			assert.Len(t, r.Values, 64)
			last := sc.PromptLast()
			switch column(r, "position_kind") {
			case trace.KindPromptLast:
				assert.Equal(t, last, r.Position)
				assert.Equal(t, int(sc.Prompt[last]), r.TokenID)
			case trace.KindGenerated:
				require.Greater(t, r.Position, last)
				assert.Equal(t, int(sc.Generated[r.Position-last-1]), r.TokenID)
			default:
				t.Errorf("row of kind %v", column(r, "position_kind"))
			}
			seen[fmt.Sprintf("%s@%d", r.Hook, r.Position)] = true
		}
		assert.Len(t, seen, len(points)*positions, "no row twice")
	}

	// The values are those of a direct capture of the same tokens.
	c, err := m.NewContext(llama.WithContextSize(1024), llama.WithThreads(2, 2))
	require.NoError(t, err)
	defer c.Close()
	worst := 0.0
	for _, sc := range subCalls {
		tokens := append(append([]llama.Token(nil), sc.Prompt...), sc.Generated...)
		cache, err := interp.RunWithCache(context.Background(), c, [][]llama.Token{tokens}, interp.Names(hooks...), interp.WithAllLogits())
		require.NoError(t, err)
		for _, r := range bySubCall[sc.ID] {
			want := cache.Get(r.Hook, 0).RawRowView(r.Position)
			var diff, scale float64
			for j, v := range r.Values {
				diff = max(diff, math.Abs(float64(v)-want[j]))
				scale = max(scale, math.Abs(want[j]))
			}
			worst = max(worst, diff/scale)
			assert.LessOrEqual(t, diff, 1e-5*scale, "sub-call %d, %s at %d", sc.ID, r.Hook, r.Position)
		}
	}
	t.Logf("largest difference from a direct capture, relative to each row's scale: %.2g", worst)

	// The file alone gives the sub-calls back.
	read, err := trace.ReadSubCalls(context.Background(), files[0])
	require.NoError(t, err)
	require.Len(t, read, len(subCalls))
	for i := range subCalls {
		assert.Equal(t, subCalls[i], read[i])
	}
}
