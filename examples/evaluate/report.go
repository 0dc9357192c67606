package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
)

// The reports of an output directory.
const (
	tableName           = "results.parquet"
	summaryMarkdownName = "summary.md"
	summaryJSONName     = "summary.json"
	plotName            = "accuracy.png"
)

// reports says where the reports went and what they say.
type reports struct {
	dir     string
	summary Summary
}

// writeReports writes the table, the summary (Markdown and JSON) and the
// plot of records into dir, each atomically: a reader never sees a file
// half-written. Records are put in the order of their index; bins and
// tokenBins are the edges of the context-length bins in characters and in
// tokens.
func writeReports(dir string, c Config, records []Record, bins, tokenBins []int) (reports, error) {
	records = slices.Clone(records)
	slices.SortFunc(records, func(a, b Record) int { return a.Index - b.Index })
	s := summarize(c, records, bins, tokenBins)
	for _, f := range []struct {
		name  string
		write func(io.Writer) error
	}{
		{tableName, func(w io.Writer) error { return writeParquet(w, records) }},
		{summaryJSONName, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(s)
		}},
		{summaryMarkdownName, s.writeMarkdown},
		{plotName, func(w io.Writer) error { return writePlot(w, s) }},
	} {
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.write); err != nil {
			return reports{}, fmt.Errorf("write %s: %w", f.name, err)
		}
	}
	return reports{dir: dir, summary: s}, nil
}

// printReports tells the user the headline and where the reports are.
func printReports(w io.Writer, r reports) {
	s := r.summary
	fmt.Fprintf(w, "%d examples of %s/%s: accuracy %s%% (lenient, ours: %s%%)", s.Examples, s.Dataset, s.Split,
		percent(s.Accuracy), percent(s.LenientAccuracy))
	if s.BaselineAccuracy != nil {
		fmt.Fprintf(w, "; baseline, the worker alone, on %d: %s%% (lenient: %s%%)", s.BaselineExamples,
			percent(*s.BaselineAccuracy), percent(*s.BaselineLenientAccuracy))
	}
	if s.BaselineExcluded > 0 {
		fmt.Fprintf(w, ", %d excluded (too long for the worker)", s.BaselineExcluded)
	}
	fmt.Fprintf(w, ", %.1f sub-calls and %s per example\n", s.MeanSubCalls, seconds(s.SecondsPerExample))
	for _, f := range []struct{ what, name string }{
		{"summary", summaryMarkdownName},
		{"summary (JSON)", summaryJSONName},
		{"plot", plotName},
		{"table", tableName},
		{"journal", journalName},
	} {
		fmt.Fprintf(w, "%-15s %s\n", f.what+":", filepath.Join(r.dir, f.name))
	}
}
