package oolong_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/apache/arrow/go/v17/parquet"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm/oolong"
)

// splitRows builds a split in the dataset's shape from the real transcripts
// of campaign 1 (synthetic text when they are absent): windows of 1 to 24
// consecutive episodes, as the dataset's, each asked rowsPerWindow
// questions, until rows rows.
func splitRows(b *testing.B, rows, rowsPerWindow int) []oolong.Example {
	dir, err := oolong.TranscriptDir()
	if err != nil {
		b.Logf("no transcripts (%v): synthetic text", err)
		return syntheticRows((rows+rowsPerWindow-1)/rowsPerWindow, rowsPerWindow, 1_500_000)[:rows]
	}
	c, err := oolong.LoadCampaign(dir, 1)
	require.NoError(b, err)
	episodes := c.Episodes()
	sizes := []int{1, 2, 3, 4, 5, 6, 7, 8, 10, 16, 24}
	var out []oolong.Example
	for w := 0; len(out) < rows; w++ {
		n := sizes[w%len(sizes)]
		start := (w * 7) % (len(episodes) - n)
		window, err := c.Window(episodes[start : start+n]...)
		require.NoError(b, err)
		for q := 0; q < rowsPerWindow && len(out) < rows; q++ {
			t := oolong.QuestionTypes[q%2]
			if n > 1 {
				t = oolong.QuestionTypes[2+q%2]
			}
			out = append(out, window.Example(fmt.Sprintf("Question %d?", q), strconv.Itoa(q), t))
		}
	}
	return out
}

// benchmarkRead reads the file name b.N times and reports the file bytes and
// the context window text delivered per second.
func benchmarkRead(b *testing.B, name string) {
	info, err := os.Stat(name)
	require.NoError(b, err)
	b.SetBytes(info.Size())
	b.ReportAllocs()
	text := 0
	for b.Loop() {
		r, err := oolong.Open(name)
		require.NoError(b, err)
		for e, err := range r.All(b.Context()) {
			require.NoError(b, err)
			text += len(e.ContextWindowText)
		}
		require.NoError(b, r.Close())
	}
	b.ReportMetric(float64(text)/1e6/b.Elapsed().Seconds(), "text-MB/s")
}

// BenchmarkRead reads a split of 64 rows of real context windows (1 to 24
// episodes) in JSONL and Parquet, with 8 rows per window as in the dataset
// and with a new window every row, the worst case.
func BenchmarkRead(b *testing.B) {
	for _, perWindow := range []int{8, 1} {
		rows := splitRows(b, 64, perWindow)
		dir := b.TempDir()
		jsonl, pq := filepath.Join(dir, "split.jsonl"), filepath.Join(dir, "split.parquet")
		writeJSONLFile(b, jsonl, rows)
		writeParquetFile(b, pq, rows, 16, parquet.WithDictionaryDefault(false), parquet.WithBatchSize(1))
		b.Run(fmt.Sprintf("jsonl/rows-per-window=%d", perWindow), func(b *testing.B) { benchmarkRead(b, jsonl) })
		b.Run(fmt.Sprintf("parquet/rows-per-window=%d", perWindow), func(b *testing.B) { benchmarkRead(b, pq) })
	}
}

// BenchmarkStreamLargeSplit streams a split the size of the real one, in
// JSONL and Parquet, and reports the heap it took. $OOLONG_BENCH_ROWS sets
// the rows (default 1500, over 2 GB; the dataset's test split has about
// 6000).
func BenchmarkStreamLargeSplit(b *testing.B) {
	rowCount := 1500
	if v := os.Getenv("OOLONG_BENCH_ROWS"); v != "" {
		var err error
		rowCount, err = strconv.Atoi(v)
		require.NoError(b, err)
	}
	dir := b.TempDir()
	jsonl, pq := filepath.Join(dir, "split.jsonl"), filepath.Join(dir, "split.parquet")
	rows := splitRows(b, rowCount, 8)
	writeJSONLFile(b, jsonl, rows)
	writeParquetFile(b, pq, rows, 64, parquet.WithDictionaryDefault(false), parquet.WithBatchSize(1))
	text := 0
	for _, row := range rows {
		text += len(row.ContextWindowText)
	}
	rows = nil
	for _, name := range []string{jsonl, pq} {
		b.Run(filepath.Ext(name)[1:], func(b *testing.B) {
			info, err := os.Stat(name)
			require.NoError(b, err)
			b.SetBytes(int64(text))
			var live, total uint64
			for b.Loop() {
				l, t := heapPeaks(func() {
					r, err := oolong.Open(name)
					require.NoError(b, err)
					for _, err := range r.All(b.Context()) {
						require.NoError(b, err)
					}
					require.NoError(b, r.Close())
				})
				live, total = max(live, l), max(total, t)
			}
			b.ReportMetric(float64(text)/(1<<30), "text-GiB")
			b.ReportMetric(float64(info.Size())/(1<<30), "file-GiB")
			b.ReportMetric(mib(live), "live-heap-peak-MiB")
			b.ReportMetric(mib(total), "heap-peak-MiB")
		})
	}
}

// BenchmarkScore scores a mix of outputs like a model's: reasoning followed
// by a boxed integer, list or name, or no box at all.
func BenchmarkScore(b *testing.B) {
	cases := [][2]string{
		{"42", "Counting the rolls episode by episode: 12 + 17 + 13 = 42.\n\nThe answer is \\boxed{42}."},
		{"17", "I found 19 rolls of that type, so \\boxed{19}"},
		{"Fire Bolt, Cure Wounds, Shield", "The spells were \\boxed{\\text{Cure Wounds, Fire Bolt, Haste}}"},
		{"Percy", "The character is \\boxed{percy}"},
		{"8", "I cannot determine the answer from the transcript."},
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c := cases[i%len(cases)]
		oolong.Score(c[0], c[1])
	}
}

// BenchmarkWindow builds context windows of 1, 8 and 24 episodes of the real
// transcripts.
func BenchmarkWindow(b *testing.B) {
	c := loadRealCampaign(b, 1)
	for _, n := range []int{1, 8, 24} {
		b.Run(fmt.Sprintf("episodes=%d", n), func(b *testing.B) {
			w, err := c.First(n)
			require.NoError(b, err)
			b.SetBytes(int64(len(w.Text)))
			for b.Loop() {
				_, err := c.First(n)
				require.NoError(b, err)
			}
		})
	}
}
