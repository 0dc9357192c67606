package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strconv"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The table's rows as readers see them: column name → value, values
// normalised (see normalize) so that rows from Arrow Go, DuckDB and the
// journal compare.

// expectedRow is the row the table should hold for r: the columns
// (ids, type, context length, gold, answer, score, sub-calls, code blocks
// run and failed, tokens, seconds, stop reason, trajectory path) and the
// baseline's, null without one.
func expectedRow(r Record) map[string]any {
	row := map[string]any{
		"index": r.Index, "id": r.ID, "context_window_id": r.ContextWindowID, "campaign": r.Campaign,
		"question_type": r.QuestionType, "episodes": r.Episodes, "question": r.Question,
		"context_chars": r.ContextChars, "context_tokens": r.ContextTokens, "gold": r.Gold, "answer": r.Answer,
		"score": r.Score, "lenient_score": r.LenientScore,
		"final": r.Final, "stop_reason": r.Stop, "error": nil, "iterations": r.Iterations,
		"sub_calls": r.SubCalls, "sub_calls_failed": r.SubCallsFailed, "sub_call_cache_hits": r.SubCallCacheHits,
		"code_blocks": r.CodeBlocks, "code_blocks_failed": r.CodeBlocksFailed,
		"controller_prompt_tokens": r.ControllerPromptTokens, "controller_completion_tokens": r.ControllerCompletionTokens,
		"controller_cached_tokens": r.ControllerCachedTokens,
		"worker_prompt_tokens":     r.WorkerPromptTokens, "worker_completion_tokens": r.WorkerCompletionTokens,
		"seconds": r.Seconds, "trajectory": r.Trajectory,
		"baseline_excluded": nil, "baseline_answer": nil, "baseline_score": nil, "baseline_lenient_score": nil,
		"baseline_context_chars": nil, "baseline_truncated": nil,
		"baseline_prompt_tokens": nil, "baseline_completion_tokens": nil, "baseline_seconds": nil, "baseline_error": nil,
	}
	if r.Error != "" {
		row["error"] = r.Error
	}
	if b := r.Baseline; b != nil && b.Excluded != "" {
		row["baseline_excluded"] = b.Excluded
	} else if b != nil {
		row["baseline_answer"], row["baseline_score"], row["baseline_lenient_score"] = b.Answer, b.Score, b.LenientScore
		row["baseline_context_chars"], row["baseline_truncated"] = b.ContextChars, b.Truncated
		row["baseline_prompt_tokens"], row["baseline_completion_tokens"], row["baseline_seconds"] = b.PromptTokens, b.CompletionTokens, b.Seconds
		if b.Error != "" {
			row["baseline_error"] = b.Error
		}
	}
	return normalize(row).(map[string]any)
}

// normalize turns numbers, and strings that hold numbers (readers print
// 64-bit integers as strings), into float64, recursively, so that the same
// value compares equal whoever printed it.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = normalize(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = normalize(x)
		}
		return out
	case []int:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return out
	case int:
		return float64(v)
	case json.Number:
		f, _ := v.Float64()
		return f
	case string:
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f
		}
		return v
	}
	return v
}

// arrowRows reads a Parquet table with Arrow Go's reader.
func arrowRows(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	table, err := pqarrow.ReadTable(context.Background(), f, parquet.NewReaderProperties(memory.DefaultAllocator),
		pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	require.NoError(t, err)
	defer table.Release()
	tr := array.NewTableReader(table, 1024)
	defer tr.Release()
	var buf bytes.Buffer
	for tr.Next() {
		require.NoError(t, array.RecordToJSON(tr.Record(), &buf))
	}
	var rows []map[string]any
	lines := bufio.NewScanner(&buf)
	lines.Buffer(nil, 1<<24)
	for lines.Scan() {
		dec := json.NewDecoder(bytes.NewReader(lines.Bytes()))
		dec.UseNumber()
		var row map[string]any
		require.NoError(t, dec.Decode(&row))
		for name := range expectedRow(Record{}) {
			if _, ok := row[name]; !ok {
				row[name] = nil // Arrow's JSON leaves nulls out
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// checkTable checks that rows, as a reader read them, are the records, in
// order.
func checkTable(t *testing.T, reader string, rows []map[string]any, records []Record) {
	t.Helper()
	require.Len(t, rows, len(records), "%s: one row per example", reader)
	for i, r := range records {
		assert.Equal(t, expectedRow(r), normalize(rows[i]), "%s: row %d", reader, i)
	}
}
