package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm/hub"
	"github.com/go-rlm/rlm/rlm/hub/hubtest"
	"github.com/go-rlm/rlm/rlm/oolong"
)

// smallExamples are rows in the dataset's shape with short context
// windows, for tests that need no real transcripts.
func smallExamples(n int) []oolong.Example {
	var examples []oolong.Example
	for i := range n {
		var text strings.Builder
		text.WriteString("The following lines contains a single episode transcript.\n\n" + oolong.EpisodeStart + "\n")
		for line := range 40 + 10*i {
			fmt.Fprintf(&text, "Matt: Roll %d for initiative.\nLaura: I rolled a %d.\n", line, (line*7+i)%20+1)
		}
		text.WriteString(oolong.EpisodeEnd)
		examples = append(examples, oolong.Example{
			ID:                fmt.Sprintf("small-%d", i),
			ContextWindowID:   fmt.Sprintf("window-%d", i),
			ContextWindowText: text.String(),
			Question:          fmt.Sprintf("Total number of rolls in this episode? (%d)", i),
			Answer:            fmt.Sprint(40 + 10*i),
			QuestionType:      oolong.SingleDocRolls,
			Episodes:          []int{i + 1},
			Campaign:          "campaign1",
		})
	}
	return examples
}

// hubEnv points the command at a Hub and a cache of the test's own.
func hubEnv(endpoint, home string) []string {
	return []string{"HF_ENDPOINT=" + endpoint, "HF_HOME=" + home, "HF_HUB_CACHE=", "HUGGINGFACE_HUB_CACHE=",
		"HF_HUB_OFFLINE=", "TRANSFORMERS_OFFLINE=", "HF_TOKEN=", "HUGGING_FACE_HUB_TOKEN="}
}

// TestDownloadsFromTheHub takes the split and the worker from a loopback
// Hub (an hf:// spec), then runs again offline from the cache.
func TestDownloadsFromTheHub(t *testing.T) {
	examples := smallExamples(3)
	var split bytes.Buffer
	enc := json.NewEncoder(&split)
	for _, e := range examples {
		require.NoError(t, enc.Encode(e))
	}
	model, err := os.ReadFile(workerModel(t))
	require.NoError(t, err)
	srv := hubtest.NewServer()
	defer srv.Close()
	srv.Commit(hub.Dataset, oolong.Repo, "main",
		hubtest.File{Path: oolong.JSONLPath(oolong.ToyDnD, oolong.Test), Content: split.Bytes(), LFS: true})
	srv.Commit(hub.Model, "test-org/Tiny-GGUF", "main",
		hubtest.File{Path: "tiny-q8_0.gguf", Content: []byte("not this one"), LFS: true},
		hubtest.File{Path: "tiny-f32.gguf", Content: model, LFS: true})

	dir := t.TempDir()
	home, out := filepath.Join(dir, "hf"), filepath.Join(dir, "out")
	ctrl := newScriptedController(t)
	args := []string{"-config", "toy_dnd", "-controller-url", ctrl.URL + "/v1",
		"-worker", "hf://test-org/Tiny-GGUF:F32", "-worker-grammar", workerGrammar,
		"-worker-ctx", "1024", "-worker-max-tokens", "12", "-threads", "1", "-out", out}
	r := evaluate(t, hubEnv(srv.URL, home), args...)
	require.Equal(t, 0, r.code, r.stderr)
	records, err := readJournal(filepath.Join(out, journalName))
	require.NoError(t, err)
	require.Len(t, records, len(examples))
	for i, rec := range records {
		assert.Equal(t, examples[i].ID, rec.ID)
		assert.Equal(t, 2, rec.SubCalls, "the worker from the Hub answered")
	}
	assert.DirExists(t, filepath.Join(home, "hub", "datasets--oolongbench--oolong-real"))
	assert.DirExists(t, filepath.Join(home, "hub", "models--test-org--Tiny-GGUF"))

	// Offline, everything comes from the cache.
	r = evaluate(t, append(hubEnv("http://127.0.0.1:1", home), "HF_HUB_OFFLINE=1"), args...)
	require.Equal(t, 0, r.code, r.stderr)
}

// TestParquetConversionFromTheHub takes the split from the Hub's Parquet
// conversion when the repository has no JSONL file of it.
func TestParquetConversionFromTheHub(t *testing.T) {
	examples := smallExamples(5)
	srv := hubtest.NewServer()
	defer srv.Close()
	srv.Commit(hub.Dataset, oolong.Repo, "main", hubtest.File{Path: "README.md", Content: []byte("# OOLONG-real")})
	srv.Commit(hub.Dataset, oolong.Repo, oolong.ParquetRevision,
		hubtest.File{Path: "toy_dnd/test/0000.parquet", Content: datasetParquet(t, examples[:3]), LFS: true},
		hubtest.File{Path: "toy_dnd/test/0001.parquet", Content: datasetParquet(t, examples[3:]), LFS: true},
		hubtest.File{Path: "toy_dnd/validation/0000.parquet", Content: datasetParquet(t, examples[:1]), LFS: true})

	out := filepath.Join(t.TempDir(), "out")
	ctrl := newScriptedController(t)
	r := evaluate(t, hubEnv(srv.URL, filepath.Join(t.TempDir(), "hf")),
		testArgs("", ctrl.URL, workerModel(t), "-config", "toy_dnd", "-out", out)...)
	require.Equal(t, 0, r.code, r.stderr)
	records, err := readJournal(filepath.Join(out, journalName))
	require.NoError(t, err)
	require.Len(t, records, len(examples), "both shards of the test split, not the validation split")
	for i, rec := range records {
		assert.Equal(t, examples[i].ID, rec.ID)
		assert.Equal(t, examples[i].Episodes, rec.Episodes)
	}
}

// datasetParquet writes examples as the Hub's converter writes the
// dataset: one column per field, episodes as a list of int64.
func datasetParquet(t *testing.T, examples []oolong.Example) []byte {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.BinaryTypes.String},
		{Name: "context_window_id", Type: arrow.BinaryTypes.String},
		{Name: "context_window_text", Type: arrow.BinaryTypes.String},
		{Name: "question", Type: arrow.BinaryTypes.String},
		{Name: "answer", Type: arrow.BinaryTypes.String},
		{Name: "question_type", Type: arrow.BinaryTypes.String},
		{Name: "episodes", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)},
		{Name: "campaign", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for _, e := range examples {
		for i, v := range []string{e.ID, e.ContextWindowID, e.ContextWindowText, e.Question, e.Answer, string(e.QuestionType)} {
			b.Field(i).(*array.StringBuilder).Append(v)
		}
		episodes := b.Field(6).(*array.ListBuilder)
		episodes.Append(true)
		for _, ep := range e.Episodes {
			episodes.ValueBuilder().(*array.Int64Builder).Append(int64(ep))
		}
		b.Field(7).(*array.StringBuilder).Append(e.Campaign)
	}
	rec := b.NewRecord()
	defer rec.Release()
	var buf bytes.Buffer
	w, err := pqarrow.NewFileWriter(schema, &buf, nil, pqarrow.DefaultWriterProps())
	require.NoError(t, err)
	require.NoError(t, w.Write(rec))
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// TestOffline runs the laptop preset, as `make run` does, with no Hub to
// reach and an empty cache, and with offline mode on: each run stops at
// once with the Hub client's message and status 1, and leaves neither an
// output directory nor a partial download behind.
func TestOffline(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + listener.Addr().String()
	require.NoError(t, listener.Close()) // a port where nothing listens

	for _, tt := range []struct {
		name string
		env  []string
		want string
	}{
		{"unreachable", nil, "is unreachable"},
		{"offline mode", []string{"HF_HUB_OFFLINE=1"}, "offline mode is on"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			home, out := filepath.Join(dir, "hf"), filepath.Join(dir, "out")
			start := time.Now()
			r := evaluate(t, append(hubEnv(closed, home), tt.env...),
				"-preset", "laptop", "-config", "toy_dnd", "-n", "5", "-out", out)
			elapsed := time.Since(start)
			assert.Equal(t, 1, r.code)
			assert.Empty(t, r.stdout)
			assert.Contains(t, r.stderr, tt.want)
			assert.Contains(t, r.stderr, "Ways out", "the Hub client's advice")
			assert.True(t, strings.HasPrefix(r.stderr, "evaluate: hub: "), r.stderr)
			assert.Less(t, elapsed, time.Minute, "it stops at once rather than retrying")
			assert.NoDirExists(t, out)
			// The cache holds no file, partial or whole (lock files aside).
			filepath.WalkDir(home, func(path string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() && !strings.HasSuffix(path, ".lock") {
					t.Errorf("left behind: %s", path)
				}
				return nil
			})
		})
	}
}
