package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/go-rlm/rlm/rlm/oolong"
)

// Summary is what a table of results comes to. Accuracies are mean
// official OOLONG-real scores, in [0, 1] (OOLONG's papers print them times
// 100). It is a plain value.
type Summary struct {
	Dataset  string `json:"dataset"`
	Split    string `json:"split"`
	Examples int    `json:"examples"`
	// Failed counts examples whose run ended in an error (scored 0).
	Failed   int     `json:"failed"`
	Accuracy float64 `json:"accuracy"`
	// BaselineExamples counts the examples the worker also answered alone
	// (-baseline); BaselineAccuracy is its accuracy on them.
	BaselineExamples int      `json:"baseline_examples"`
	BaselineAccuracy *float64 `json:"baseline_accuracy,omitempty"`
	ByType           []Group  `json:"by_question_type"`
	// ByContextLength groups the examples by the length of their context
	// window, in ContextLengthUnit.
	ByContextLength   []Group `json:"by_context_length"`
	ContextLengthUnit string  `json:"context_length_unit"`

	MeanSubCalls     float64 `json:"mean_sub_calls"`
	CodeBlocks       int     `json:"code_blocks"`
	CodeBlocksFailed int     `json:"code_blocks_failed"`
	// CodeSuccessRate is the fraction of code blocks that ran without an
	// exception.
	CodeSuccessRate float64 `json:"code_success_rate"`
	// SecondsPerExample is the mean wall time of an RLM run;
	// BaselineSecondsPerExample that of a baseline answer.
	SecondsPerExample         float64        `json:"seconds_per_example"`
	TotalSeconds              float64        `json:"total_seconds"`
	BaselineSecondsPerExample *float64       `json:"baseline_seconds_per_example,omitempty"`
	StopReasons               map[string]int `json:"stop_reasons"`
}

// Group is the accuracy of a group of examples: a question type, or a bin
// of context lengths (Min < length ≤ Max; Max 0 means no upper bound). It
// is a plain value.
type Group struct {
	Name             string   `json:"name"`
	Min              int      `json:"min,omitempty"`
	Max              int      `json:"max,omitempty"`
	Examples         int      `json:"examples"`
	Accuracy         float64  `json:"accuracy"`
	BaselineExamples int      `json:"baseline_examples"`
	BaselineAccuracy *float64 `json:"baseline_accuracy,omitempty"`
}

// tally accumulates the scores of a group.
type tally struct {
	n, nBaseline         int
	score, baselineScore float64
}

func (t *tally) add(r Record) {
	t.n++
	t.score += r.Score
	if r.Baseline != nil {
		t.nBaseline++
		t.baselineScore += r.Baseline.Score
	}
}

func (t tally) group(name string) Group {
	g := Group{Name: name, Examples: t.n, BaselineExamples: t.nBaseline}
	if t.n > 0 {
		g.Accuracy = t.score / float64(t.n)
	}
	if t.nBaseline > 0 {
		acc := t.baselineScore / float64(t.nBaseline)
		g.BaselineAccuracy = &acc
	}
	return g
}

// bin is a range of context lengths: lo < length ≤ hi, hi 0 for no bound.
type bin struct{ lo, hi int }

func (b bin) name() string {
	if b.hi == 0 {
		return ">" + formatSize(b.lo)
	}
	return formatSize(b.lo) + "-" + formatSize(b.hi)
}

func binsOf(edges []int) []bin {
	bins := make([]bin, 0, len(edges)+1)
	lo := 0
	for _, hi := range edges {
		bins = append(bins, bin{lo, hi})
		lo = hi
	}
	return append(bins, bin{lo, 0})
}

func (b bin) has(n int) bool { return n > b.lo && (b.hi == 0 || n <= b.hi) }

// summarize computes the Summary of records, grouping context lengths by
// the bins whose upper edges are edges. Bins without examples are left out.
func summarize(c Config, records []Record, edges []int) Summary {
	s := Summary{
		Dataset: string(c.Dataset), Split: string(c.Split), Examples: len(records),
		ContextLengthUnit: "characters", StopReasons: map[string]int{},
	}
	var all tally
	byType := map[string]*tally{}
	bins := binsOf(edges)
	byBin := make([]tally, len(bins))
	subCalls, baselineSeconds := 0, 0.0
	for _, r := range records {
		all.add(r)
		if byType[r.QuestionType] == nil {
			byType[r.QuestionType] = &tally{}
		}
		byType[r.QuestionType].add(r)
		for i, b := range bins {
			if b.has(r.ContextChars) {
				byBin[i].add(r)
			}
		}
		if r.Error != "" {
			s.Failed++
		}
		subCalls += r.SubCalls
		s.CodeBlocks += r.CodeBlocks
		s.CodeBlocksFailed += r.CodeBlocksFailed
		s.TotalSeconds += r.Seconds
		if r.Stop != "" {
			s.StopReasons[r.Stop]++
		}
		if r.Baseline != nil {
			baselineSeconds += r.Baseline.Seconds
		}
	}
	overall := all.group("all")
	s.Accuracy, s.BaselineExamples, s.BaselineAccuracy = overall.Accuracy, overall.BaselineExamples, overall.BaselineAccuracy
	if all.nBaseline > 0 {
		mean := baselineSeconds / float64(all.nBaseline)
		s.BaselineSecondsPerExample = &mean
	}
	// Question types in the dataset's order, then any other.
	types := slices.Sorted(maps.Keys(byType))
	slices.SortStableFunc(types, func(a, b string) int {
		return typeRank(a) - typeRank(b)
	})
	for _, t := range types {
		s.ByType = append(s.ByType, byType[t].group(t))
	}
	for i, b := range bins {
		if byBin[i].n > 0 {
			g := byBin[i].group(b.name())
			g.Min, g.Max = b.lo, b.hi
			s.ByContextLength = append(s.ByContextLength, g)
		}
	}
	if len(records) > 0 {
		s.MeanSubCalls = float64(subCalls) / float64(len(records))
		s.SecondsPerExample = s.TotalSeconds / float64(len(records))
	}
	if s.CodeBlocks > 0 {
		s.CodeSuccessRate = float64(s.CodeBlocks-s.CodeBlocksFailed) / float64(s.CodeBlocks)
	}
	return s
}

func typeRank(t string) int {
	if i := slices.Index(oolong.QuestionTypes, oolong.QuestionType(t)); i >= 0 {
		return i
	}
	return len(oolong.QuestionTypes)
}

// writeMarkdown writes the summary as a Markdown page.
func (s Summary) writeMarkdown(w io.Writer) error {
	var b strings.Builder
	baseline := s.BaselineExamples > 0
	fmt.Fprintf(&b, "# OOLONG-real: %s/%s\n\n", s.Dataset, s.Split)
	fmt.Fprintf(&b, "%d examples", s.Examples)
	if s.Failed > 0 {
		fmt.Fprintf(&b, " (%d failed with an error, scored 0)", s.Failed)
	}
	b.WriteString(". Accuracy is the mean official OOLONG-real score, in percent")
	if baseline {
		fmt.Fprintf(&b, "; the baseline is the worker alone on the context window cut to its context (%d examples)", s.BaselineExamples)
	}
	b.WriteString(".\n\n")

	header := "| | Examples | RLM |"
	rule := "|---|---:|---:|"
	if baseline {
		header += " Baseline |"
		rule += "---:|"
	}
	row := func(name string, g Group) {
		fmt.Fprintf(&b, "| %s | %d | %s |", name, g.Examples, percent(g.Accuracy))
		if baseline {
			if g.BaselineAccuracy != nil {
				fmt.Fprintf(&b, " %s |", percent(*g.BaselineAccuracy))
			} else {
				b.WriteString(" – |")
			}
		}
		b.WriteString("\n")
	}
	b.WriteString(header + "\n" + rule + "\n")
	row("**All**", Group{Examples: s.Examples, Accuracy: s.Accuracy, BaselineAccuracy: s.BaselineAccuracy})

	b.WriteString("\n## By question type\n\n" + strings.Replace(header, "| |", "| Question type |", 1) + "\n" + rule + "\n")
	for _, g := range s.ByType {
		row(g.Name, g)
	}
	fmt.Fprintf(&b, "\n## By context length (%s)\n\n", s.ContextLengthUnit)
	b.WriteString(strings.Replace(header, "| |", "| Context length |", 1) + "\n" + rule + "\n")
	for _, g := range s.ByContextLength {
		row(g.Name, g)
	}

	b.WriteString("\n## The RLM's work\n\n| | |\n|---|---:|\n")
	fmt.Fprintf(&b, "| Mean sub-calls per example | %.1f |\n", s.MeanSubCalls)
	fmt.Fprintf(&b, "| Code blocks run | %d |\n", s.CodeBlocks)
	fmt.Fprintf(&b, "| Code blocks without an exception | %s |\n", percent(s.CodeSuccessRate))
	fmt.Fprintf(&b, "| Runtime per example | %s |\n", seconds(s.SecondsPerExample))
	if s.BaselineSecondsPerExample != nil {
		fmt.Fprintf(&b, "| Baseline runtime per example | %s |\n", seconds(*s.BaselineSecondsPerExample))
	}
	fmt.Fprintf(&b, "| Total RLM runtime | %s |\n", seconds(s.TotalSeconds))
	reasons := slices.Sorted(maps.Keys(s.StopReasons))
	var parts []string
	for _, r := range reasons {
		parts = append(parts, fmt.Sprintf("%s %d", r, s.StopReasons[r]))
	}
	fmt.Fprintf(&b, "| Stop reasons | %s |\n", strings.Join(parts, ", "))
	_, err := io.WriteString(w, b.String())
	return err
}

func percent(f float64) string { return fmt.Sprintf("%.1f", 100*f) }

func seconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	if d < time.Minute {
		return fmt.Sprintf("%.1f s", s)
	}
	return d.Round(time.Second).String()
}
