package main

import (
	"encoding/json"
	"image/png"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/examples/internal/cli"
	"github.com/go-rlm/rlm/interp/export/duckdbtest"
	"github.com/go-rlm/rlm/llama/llamatest"
	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/oolong"
	"github.com/go-rlm/rlm/rlm/rlmtest"
)

// TestEvaluate runs an evaluation of six examples built from the real
// transcripts, with the baseline and HTML trajectories, and checks every
// output against the journal and the examples: the Parquet table (through
// Arrow Go and DuckDB), the summary, the plot and the trajectories. Then it
// checks that a rerun resumes with nothing to do, and that a rerun with
// another configuration is refused.
func TestEvaluate(t *testing.T) {
	dir := t.TempDir()
	examples := transcriptExamples(t, 6)
	data := writeSplit(t, dir, examples)
	ctrl := newScriptedController(t)
	out := filepath.Join(dir, "out")
	args := testArgs(data, ctrl.URL, workerModel(t), "-baseline", "-baseline-fit", "truncate", "-html", "-out", out)

	r := evaluate(t, nil, args...)
	require.Equal(t, 0, r.code, r.stderr)
	for _, name := range []string{summaryMarkdownName, plotName, tableName} {
		assert.Contains(t, r.stdout, filepath.Join(out, name), "the command says where the %s is", name)
	}
	assert.Contains(t, r.stderr, "6/6 examples", "plain progress lines when stderr is not a terminal")

	records, err := readJournal(filepath.Join(out, journalName))
	require.NoError(t, err)
	require.Len(t, records, len(examples))
	// The journal is in the order of the file, which the run reads through
	// once; the selection is sorted by context window.
	for i, rec := range records {
		assert.Equal(t, examples[i].ID, rec.ID, "journal line %d", i)
	}
	byIndex := slices.Clone(records)
	slices.SortFunc(byIndex, func(a, b Record) int { return a.Index - b.Index })
	inOrder := slices.Clone(examples)
	oolong.SortByContextWindow(inOrder)
	for i, rec := range byIndex {
		e := inOrder[i]
		assert.Equal(t, i, rec.Index)
		assert.Equal(t, e.ID, rec.ID)
		assert.Equal(t, string(e.QuestionType), rec.QuestionType)
		assert.Equal(t, e.Episodes, rec.Episodes)
		assert.Equal(t, len([]rune(e.ContextWindowText)), rec.ContextChars)
		assert.Equal(t, len(e.ContextWindowText), rec.ContextTokens, "a token per byte")
		assert.Equal(t, e.Answer, rec.Gold)
		assert.Empty(t, rec.Error)
		assert.Equal(t, "final", rec.Stop)
		assert.True(t, rec.Final)
		assert.Regexp(t, `^[0-9]+$`, rec.Answer, "the sum of two boxed numbers")
		assert.Zero(t, rec.Score, "officially, an unboxed number scores 0")
		assert.Equal(t, oolong.LenientScore(rec.Gold, rec.Answer), rec.LenientScore)
		assert.Equal(t, 2, rec.SubCalls, "the script makes two sub-calls")
		spells := strings.Contains(e.Question, "spell")
		if spells {
			assert.Equal(t, 2, rec.CodeBlocks)
			assert.Equal(t, 1, rec.CodeBlocksFailed, "the first block of a spell question raises")
		} else {
			assert.Equal(t, 1, rec.CodeBlocks)
			assert.Zero(t, rec.CodeBlocksFailed)
		}
		assert.Positive(t, rec.ControllerPromptTokens)
		if i%2 == 0 { // the first question of its window asks the worker
			assert.Less(t, rec.SubCallCacheHits, 2, "new chunks, but for a start that single-episode windows share")
			assert.Positive(t, rec.WorkerPromptTokens)
		} else { // the second gets the same sub-calls from the memo
			assert.Equal(t, 2, rec.SubCallCacheHits)
			assert.Zero(t, rec.WorkerPromptTokens)
		}
		assert.Positive(t, rec.Seconds)

		require.NotNil(t, rec.Baseline)
		b := rec.Baseline
		assert.Regexp(t, `^\\boxed\{[1-9][0-9]?\}$`, b.Answer, "the grammar holds the worker to a boxed number")
		assert.Equal(t, oolong.Score(rec.Gold, b.Answer), b.Score)
		assert.Equal(t, b.Score, b.LenientScore, "a boxed answer scores the same either way")
		assert.Empty(t, b.Excluded)
		assert.True(t, b.Truncated, "a whole episode does not fit 1024 tokens")
		assert.True(t, strings.HasPrefix(e.ContextWindowText, string([]rune(e.ContextWindowText)[:b.ContextChars])))
		assert.Less(t, b.PromptTokens, 1024-12+1, "the prompt leaves room for the reply")
		assert.Greater(t, b.PromptTokens, 1024-12-100, "the cut keeps what fits")

		// The trajectory is the run's, and its page is there.
		f, err := os.Open(filepath.Join(out, rec.Trajectory))
		require.NoError(t, err)
		tr, err := rlm.ReadTrajectory(f)
		f.Close()
		require.NoError(t, err)
		res, ok := tr.Result()
		require.True(t, ok)
		assert.Equal(t, rec.Answer, res.Answer)
		assert.Equal(t, rec.SubCalls, res.Stats.SubCalls)
		cached := 0
		for _, r := range tr.Records {
			if r.SubCall != nil && r.SubCall.Cached {
				cached++
			}
		}
		assert.Equal(t, rec.SubCallCacheHits, cached, "the trajectory marks the sub-calls the memo answered")
		assert.FileExists(t, filepath.Join(out, strings.TrimSuffix(rec.Trajectory, ".jsonl")+".html"))
	}

	// The table, read back by two independent readers, in the order of
	// the selection.
	checkTable(t, "arrow", arrowRows(t, filepath.Join(out, tableName)), byIndex)
	checkTable(t, "duckdb", duckdbtest.Query(t, `SELECT * FROM read_parquet('`+filepath.Join(out, tableName)+`') ORDER BY "index"`).Rows, byIndex)

	// The summary, against the journal.
	s := summaryOf(t, out)
	assert.Equal(t, len(records), s.Examples)
	assert.InDelta(t, mean(records, func(r Record) float64 { return r.Score }), s.Accuracy, 1e-12)
	assert.InDelta(t, mean(records, func(r Record) float64 { return r.LenientScore }), s.LenientAccuracy, 1e-12)
	require.NotNil(t, s.BaselineAccuracy)
	assert.InDelta(t, mean(records, func(r Record) float64 { return r.Baseline.Score }), *s.BaselineAccuracy, 1e-12)
	assert.Equal(t, len(records), s.BaselineTruncated, "every baseline saw a cut window, and the summary says so")
	assert.Zero(t, s.BaselineExcluded)
	assert.False(t, s.OfficialSelection, "-max-context-tokens 0 is not the official selection")
	assert.InDelta(t, 2.0, s.MeanSubCalls, 1e-12)
	assert.InDelta(t, 6.0/9.0, s.CodeSuccessRate, 1e-12, "9 blocks, 3 of them raising")
	assert.Equal(t, "characters", s.ContextLengthUnit)
	binned := 0
	for _, g := range s.ByContextLength {
		binned += g.Examples
	}
	assert.Equal(t, len(records), binned, "every example falls in one bin")
	assert.Len(t, s.ByContextLength, 2, "one- and two-episode windows fall in two bins")
	md, err := os.ReadFile(filepath.Join(out, summaryMarkdownName))
	require.NoError(t, err)
	assert.Contains(t, string(md), "| **All** | 6 | "+percent(s.Accuracy)+" | "+percent(s.LenientAccuracy)+" | 6 | "+
		percent(*s.BaselineAccuracy)+" | "+percent(*s.BaselineLenientAccuracy)+" | "+percent(*s.PairedAccuracy)+" |")
	assert.Contains(t, string(md), "**6 of them on a window cut to fit the worker's context**")

	// The plot is a PNG image.
	f, err := os.Open(filepath.Join(out, plotName))
	require.NoError(t, err)
	img, err := png.Decode(f)
	f.Close()
	require.NoError(t, err)
	assert.Greater(t, img.Bounds().Dx(), 300)

	// A rerun resumes: nothing left to do, the journal unchanged.
	journal, err := os.ReadFile(filepath.Join(out, journalName))
	require.NoError(t, err)
	r = evaluate(t, nil, args...)
	require.Equal(t, 0, r.code, r.stderr)
	after, err := os.ReadFile(filepath.Join(out, journalName))
	require.NoError(t, err)
	assert.Equal(t, string(journal), string(after))

	// Another configuration is refused, before anything is touched.
	r = evaluate(t, nil, append(args, "-iterations", "5")...)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "iterations: 30 then 5")
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %s", r.stderr)
	after, err = os.ReadFile(filepath.Join(out, journalName))
	require.NoError(t, err)
	assert.Equal(t, string(journal), string(after))
}

func mean(records []Record, value func(Record) float64) float64 {
	sum := 0.0
	for _, r := range records {
		sum += value(r)
	}
	if len(records) == 0 {
		return math.NaN()
	}
	return sum / float64(len(records))
}

// summaryOf reads the JSON summary of an output directory.
func summaryOf(t testing.TB, dir string) Summary {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, summaryJSONName))
	require.NoError(t, err)
	var s Summary
	require.NoError(t, json.Unmarshal(data, &s))
	return s
}

// TestLocalController runs the controller in process too, from the same
// generated GGUF as the worker (one model loaded, two contexts). A random
// model writes no code, so the run asks once for an answer after its one
// iteration and stops without a FINAL: what matters here is that the path
// from a GGUF file to a controller works and is recorded as such.
func TestLocalController(t *testing.T) {
	cfg := llamatest.DefaultConfig()
	cfg.Context = 16384 // the controller's system prompt is about 3,000 tokens of bytes
	model := llamatest.Model(t, cfg)
	dir := t.TempDir()
	data := writeSplit(t, dir, smallExamples(1))
	out := filepath.Join(dir, "out")
	r := evaluate(t, nil, "-data", data, "-controller", model, "-worker", model, "-iterations", "1",
		"-controller-ctx", "8192", "-controller-max-tokens", "8", "-worker-ctx", "1024", "-worker-max-tokens", "12",
		"-threads", "1", "-out", out)
	require.Equal(t, 0, r.code, r.stderr)
	records, err := readJournal(filepath.Join(out, journalName))
	require.NoError(t, err)
	require.Len(t, records, 1)
	rec := records[0]
	assert.Empty(t, rec.Error)
	assert.Equal(t, "max_iterations", rec.Stop)
	assert.False(t, rec.Final)
	assert.Equal(t, 2, rec.Iterations, "one iteration and the request for an answer")
	assert.Positive(t, rec.ControllerPromptTokens)
	assert.Equal(t, 16, rec.ControllerCompletionTokens, "8 tokens a reply, as -controller-max-tokens says")
}

// TestExtraWorkerAndProtocol: -extra-worker gives the controller's code
// another worker by name, and -protocol final teaches the RLM paper's
// FINAL in the system prompt the controller reads; the output directory's
// config records both.
func TestExtraWorkerAndProtocol(t *testing.T) {
	dir := t.TempDir()
	data := writeSplit(t, dir, transcriptExamples(t, 1))
	code := rlmtest.Code(`answers = sub_call([context[:300]], "How many dice rolls are in this text?", model="small")
total = int(answers[0].strip("\\boxed{}"))`)
	var mu sync.Mutex
	var systemPrompts []string
	ctrl := serveController(t, func(messages []rlm.Message) string {
		return replyStep(messages, code, "FINAL_VAR(total)")
	}, func(_ *http.Request, messages []rlm.Message) bool {
		mu.Lock()
		defer mu.Unlock()
		systemPrompts = append(systemPrompts, messages[0].Content)
		return false
	})
	out := filepath.Join(dir, "out")
	worker := workerModel(t)
	r := evaluate(t, nil, testArgs(data, ctrl.URL, worker, "-extra-worker", "small="+worker, "-protocol", "final", "-out", out)...)
	require.Equal(t, 0, r.code, r.stderr)

	records, err := readJournal(filepath.Join(out, journalName))
	require.NoError(t, err)
	require.Len(t, records, 1)
	rec := records[0]
	assert.Zero(t, rec.CodeBlocksFailed, `model="small" names a worker`)
	assert.Equal(t, 1, rec.SubCalls)
	assert.Regexp(t, `^[1-9][0-9]?$`, rec.Answer)
	f, err := os.Open(filepath.Join(out, rec.Trajectory))
	require.NoError(t, err)
	tr, err := rlm.ReadTrajectory(f)
	f.Close()
	require.NoError(t, err)
	var models []string
	for _, r := range tr.Records {
		if r.SubCall != nil {
			models = append(models, r.SubCall.Model)
		}
	}
	assert.Equal(t, []string{"small"}, models, "the trajectory names the worker that answered")

	require.NotEmpty(t, systemPrompts)
	assert.Contains(t, systemPrompts[0], "FINAL(", "-protocol final teaches FINAL")
	assert.NotContains(t, systemPrompts[0], `answer["ready"]`)

	raw, err := os.ReadFile(filepath.Join(out, configName))
	require.NoError(t, err)
	var c Config
	require.NoError(t, json.Unmarshal(raw, &c))
	assert.Equal(t, "final", c.Protocol)
	assert.Equal(t, []cli.NamedModel{{Name: "small", Model: worker}}, c.ExtraWorkers)

	// A bad -extra-worker is a usage error.
	r = evaluate(t, nil, testArgs(data, ctrl.URL, worker, "-extra-worker", "small", "-out", filepath.Join(dir, "bad"))...)
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "want NAME=MODEL")
}
