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

// Summary is what a table of results comes to. Accuracies are mean scores,
// in [0, 1] (OOLONG's papers print them times 100): Accuracy the official
// OOLONG-real score, LenientAccuracy ours (oolong.LenientScore), for the RLM
// and the baseline alike. It is a plain value.
type Summary struct {
	Dataset  string `json:"dataset"`
	Split    string `json:"split"`
	Examples int    `json:"examples"`
	// Selection says how the examples were chosen; OfficialSelection
	// reports that it is the official evaluation's rule, with no other
	// filter, which makes the numbers comparable with published ones.
	Selection         string `json:"selection"`
	OfficialSelection bool   `json:"official_selection"`
	// Failed counts examples whose run ended in an error (scored 0).
	Failed          int     `json:"failed"`
	Accuracy        float64 `json:"accuracy"`
	LenientAccuracy float64 `json:"lenient_accuracy"`
	// BaselineExamples counts the examples the worker answered alone
	// (-baseline); BaselineAccuracy is its accuracy on them, and
	// PairedAccuracy the RLM's on the same examples. BaselineExcluded counts
	// the examples whose window did not fit the worker's context, left out;
	// BaselineTruncated those answered on a window cut to fit
	// (-baseline-fit truncate); BaselineFailed those whose request failed
	// (scored 0).
	BaselineExamples        int      `json:"baseline_examples"`
	BaselineAccuracy        *float64 `json:"baseline_accuracy,omitempty"`
	BaselineLenientAccuracy *float64 `json:"baseline_lenient_accuracy,omitempty"`
	PairedAccuracy          *float64 `json:"paired_accuracy,omitempty"`
	BaselineExcluded        int      `json:"baseline_excluded"`
	BaselineTruncated       int      `json:"baseline_truncated"`
	BaselineFailed          int      `json:"baseline_failed"`
	ByType                  []Group  `json:"by_question_type"`
	// ByContextLength groups the examples by the length of their context
	// window in ContextLengthUnit (characters), ByContextTokens in tokens
	// of ContextTokenizer.
	ByContextLength   []Group `json:"by_context_length"`
	ContextLengthUnit string  `json:"context_length_unit"`
	ByContextTokens   []Group `json:"by_context_tokens"`
	ContextTokenizer  string  `json:"context_tokenizer"`

	MeanSubCalls float64 `json:"mean_sub_calls"`
	// SubCallCacheHits counts the sub-calls answered from the memo of the
	// worker's answers (-share); WorkerPromptTokens the prompt tokens the
	// worker read.
	SubCallCacheHits   int `json:"sub_call_cache_hits"`
	WorkerPromptTokens int `json:"worker_prompt_tokens"`
	// ControllerPromptTokens counts the controller's prompt tokens,
	// ControllerCachedTokens those it held from an earlier call and did not
	// read again, and ControllerCachedShare is their ratio.
	ControllerPromptTokens int     `json:"controller_prompt_tokens"`
	ControllerCachedTokens int     `json:"controller_cached_tokens"`
	ControllerCachedShare  float64 `json:"controller_cached_share"`
	CodeBlocks             int     `json:"code_blocks"`
	CodeBlocksFailed       int     `json:"code_blocks_failed"`
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
// of context lengths (Min < length ≤ Max; Max 0 means no upper bound). The
// baseline's accuracies are over the examples it answered, PairedAccuracy
// the RLM's over the same examples. It is a plain value.
type Group struct {
	Name                    string   `json:"name"`
	Min                     int      `json:"min,omitempty"`
	Max                     int      `json:"max,omitempty"`
	Examples                int      `json:"examples"`
	Accuracy                float64  `json:"accuracy"`
	LenientAccuracy         float64  `json:"lenient_accuracy"`
	BaselineExamples        int      `json:"baseline_examples"`
	BaselineAccuracy        *float64 `json:"baseline_accuracy,omitempty"`
	BaselineLenientAccuracy *float64 `json:"baseline_lenient_accuracy,omitempty"`
	PairedAccuracy          *float64 `json:"paired_accuracy,omitempty"`
}

// tally accumulates the scores of a group.
type tally struct {
	n, nBaseline                   int
	score, lenient                 float64
	baseline, baselineLenient, rlm float64 // rlm: the RLM's score where the baseline answered
}

// add counts r. A baseline that was excluded is left out of the baseline's
// figures; one that failed counts with score 0, as a failed RLM run does.
func (t *tally) add(r Record) {
	t.n++
	t.score += r.Score
	t.lenient += r.LenientScore
	if b := r.Baseline; b != nil && b.Excluded == "" {
		t.nBaseline++
		t.baseline += b.Score
		t.baselineLenient += b.LenientScore
		t.rlm += r.Score
	}
}

func (t tally) group(name string) Group {
	g := Group{Name: name, Examples: t.n, BaselineExamples: t.nBaseline}
	if t.n > 0 {
		g.Accuracy = t.score / float64(t.n)
		g.LenientAccuracy = t.lenient / float64(t.n)
	}
	if t.nBaseline > 0 {
		n := float64(t.nBaseline)
		g.BaselineAccuracy = ptr(t.baseline / n)
		g.BaselineLenientAccuracy = ptr(t.baselineLenient / n)
		g.PairedAccuracy = ptr(t.rlm / n)
	}
	return g
}

func ptr(f float64) *float64 { return &f }

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

// binned groups records by a length, in bins with the given upper edges.
// Bins without examples are left out.
func binned(records []Record, edges []int, length func(Record) int) []Group {
	var groups []Group
	for _, b := range binsOf(edges) {
		var t tally
		for _, r := range records {
			if b.has(length(r)) {
				t.add(r)
			}
		}
		if t.n > 0 {
			g := t.group(b.name())
			g.Min, g.Max = b.lo, b.hi
			groups = append(groups, g)
		}
	}
	return groups
}

// summarize computes the Summary of records, grouping context lengths by
// bins whose upper edges are charEdges (characters) and tokenEdges
// (tokens).
func summarize(c Config, records []Record, charEdges, tokenEdges []int) Summary {
	s := Summary{
		Dataset: string(c.Dataset), Split: string(c.Split), Examples: len(records),
		Selection: c.describeSelection(), OfficialSelection: c.officialSelection(),
		ContextLengthUnit: "characters", ContextTokenizer: c.ContextTokenizer, StopReasons: map[string]int{},
	}
	var all tally
	byType := map[string]*tally{}
	subCalls, baselineSeconds := 0, 0.0
	for _, r := range records {
		all.add(r)
		if byType[r.QuestionType] == nil {
			byType[r.QuestionType] = &tally{}
		}
		byType[r.QuestionType].add(r)
		if r.Error != "" {
			s.Failed++
		}
		subCalls += r.SubCalls
		s.SubCallCacheHits += r.SubCallCacheHits
		s.WorkerPromptTokens += r.WorkerPromptTokens
		s.ControllerPromptTokens += r.ControllerPromptTokens
		s.ControllerCachedTokens += r.ControllerCachedTokens
		s.CodeBlocks += r.CodeBlocks
		s.CodeBlocksFailed += r.CodeBlocksFailed
		s.TotalSeconds += r.Seconds
		if r.Stop != "" {
			s.StopReasons[r.Stop]++
		}
		if b := r.Baseline; b != nil {
			switch {
			case b.Excluded != "":
				s.BaselineExcluded++
				continue
			case b.Error != "":
				s.BaselineFailed++
			case b.Truncated:
				s.BaselineTruncated++
			}
			baselineSeconds += b.Seconds
		}
	}
	overall := all.group("all")
	s.Accuracy, s.LenientAccuracy = overall.Accuracy, overall.LenientAccuracy
	s.BaselineExamples, s.BaselineAccuracy, s.BaselineLenientAccuracy = overall.BaselineExamples, overall.BaselineAccuracy, overall.BaselineLenientAccuracy
	s.PairedAccuracy = overall.PairedAccuracy
	if all.nBaseline > 0 {
		s.BaselineSecondsPerExample = ptr(baselineSeconds / float64(all.nBaseline))
	}
	// Question types in the dataset's order, then any other.
	types := slices.Sorted(maps.Keys(byType))
	slices.SortStableFunc(types, func(a, b string) int {
		return typeRank(a) - typeRank(b)
	})
	for _, t := range types {
		s.ByType = append(s.ByType, byType[t].group(t))
	}
	s.ByContextLength = binned(records, charEdges, func(r Record) int { return r.ContextChars })
	s.ByContextTokens = binned(records, tokenEdges, func(r Record) int { return r.ContextTokens })
	if len(records) > 0 {
		s.MeanSubCalls = float64(subCalls) / float64(len(records))
		s.SecondsPerExample = s.TotalSeconds / float64(len(records))
	}
	if s.ControllerPromptTokens > 0 {
		s.ControllerCachedShare = float64(s.ControllerCachedTokens) / float64(s.ControllerPromptTokens)
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
	fmt.Fprintf(&b, ": %s.", s.Selection)
	if s.OfficialSelection {
		b.WriteString(" This is the official evaluation's selection.")
	} else {
		b.WriteString(" This is not the official evaluation's selection (1024 < tokens <= 131072, every example): compare with published numbers with care.")
	}
	b.WriteString("\n\nAccuracy is the mean official OOLONG-real score of each system's output as it is, in percent. " +
		"*Lenient* is ours, not official: the same score with an answer without `\\boxed{}` read as if boxed, for both systems.")
	if baseline || s.BaselineExcluded > 0 {
		fmt.Fprintf(&b, " The baseline is the worker alone, as the official evaluation asks a plain model: %d examples", s.BaselineExamples)
		if s.BaselineExcluded > 0 {
			fmt.Fprintf(&b, "; %d more excluded because their window does not fit the worker's context", s.BaselineExcluded)
		}
		if s.BaselineTruncated > 0 {
			fmt.Fprintf(&b, "; **%d of them on a window cut to fit the worker's context**", s.BaselineTruncated)
		}
		if s.BaselineFailed > 0 {
			fmt.Fprintf(&b, "; %d failed, scored 0", s.BaselineFailed)
		}
		b.WriteString(". *RLM, same examples* is the RLM's accuracy on the examples the baseline answered.")
	}
	b.WriteString("\n\n")

	header := "| | Examples | RLM | RLM lenient |"
	rule := "|---|---:|---:|---:|"
	if baseline {
		header += " Baseline examples | Baseline | Baseline lenient | RLM, same examples |"
		rule += "---:|---:|---:|---:|"
	}
	opt := func(f *float64) string {
		if f == nil {
			return "–"
		}
		return percent(*f)
	}
	row := func(name string, g Group) {
		fmt.Fprintf(&b, "| %s | %d | %s | %s |", name, g.Examples, percent(g.Accuracy), percent(g.LenientAccuracy))
		if baseline {
			fmt.Fprintf(&b, " %d | %s | %s | %s |", g.BaselineExamples, opt(g.BaselineAccuracy), opt(g.BaselineLenientAccuracy), opt(g.PairedAccuracy))
		}
		b.WriteString("\n")
	}
	table := func(title string, groups []Group) {
		fmt.Fprintf(&b, "\n## %s\n\n%s\n%s\n", title, strings.Replace(header, "| |", "| Group |", 1), rule)
		for _, g := range groups {
			row(g.Name, g)
		}
	}
	b.WriteString(header + "\n" + rule + "\n")
	row("**All**", Group{Examples: s.Examples, Accuracy: s.Accuracy, LenientAccuracy: s.LenientAccuracy,
		BaselineExamples: s.BaselineExamples, BaselineAccuracy: s.BaselineAccuracy,
		BaselineLenientAccuracy: s.BaselineLenientAccuracy, PairedAccuracy: s.PairedAccuracy})
	table("By question type", s.ByType)
	table(fmt.Sprintf("By context length (tokens, the %s's tokenizer)", s.ContextTokenizer), s.ByContextTokens)
	table(fmt.Sprintf("By context length (%s)", s.ContextLengthUnit), s.ByContextLength)

	b.WriteString("\n## The RLM's work\n\n| | |\n|---|---:|\n")
	fmt.Fprintf(&b, "| Mean sub-calls per example | %.1f |\n", s.MeanSubCalls)
	fmt.Fprintf(&b, "| Sub-calls answered from the memo of the worker's answers | %d |\n", s.SubCallCacheHits)
	fmt.Fprintf(&b, "| Worker prompt tokens | %d |\n", s.WorkerPromptTokens)
	fmt.Fprintf(&b, "| Controller prompt tokens held from earlier calls | %s of %d |\n", percent(s.ControllerCachedShare)+"%", s.ControllerPromptTokens)
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
