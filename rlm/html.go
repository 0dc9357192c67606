package rlm

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"time"
)

// The HTML view of a trajectory: one self-contained page (inline CSS and a
// few lines of inline script, no external resource) that shows a run as a
// conversation, with each reply's code, its output and its sub-calls
// folded under it, and child RLMs nested under the rlm_query that started
// them. Everything the models wrote goes through html/template's escaping,
// and a Content-Security-Policy admits only the page's own script.

//go:embed trajectory.html.tmpl
var pageTemplateText string

// pageScript expands and collapses every fold. It sits in the template
// verbatim; its hash goes into the Content-Security-Policy.
const pageScript = `
document.querySelectorAll("[data-fold]").forEach(function (button) {
  button.addEventListener("click", function () {
    var open = button.getAttribute("data-fold") === "open";
    document.querySelectorAll("details").forEach(function (d) { d.open = open; });
  });
});
document.body.setAttribute("data-ready", "1");
`

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"duration": formatDuration,
	"percent":  func(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) },
	"segments": replySegments,
	"depths":   sortedDepths,
	"short":    func(s string) string { return abbreviate(s, 150) },
	"script":   func() template.JS { return template.JS(pageScript) },
	"inc":      func(i int) int { return i + 1 },
}).Parse(pageTemplateText))

// scriptPolicy is the Content-Security-Policy of the page: nothing from
// outside, inline styles, and no script but pageScript.
var scriptPolicy = func() string {
	sum := sha256.Sum256([]byte(pageScript))
	return "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-" +
		base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// WriteHTML writes t as a self-contained HTML page. A trajectory cut short
// (a run that crashed) renders as far as it goes.
func (t *Trajectory) WriteHTML(w io.Writer) error {
	page := htmlPage{Policy: scriptPolicy}
	for _, records := range splitQuestions(t.records()) {
		page.Questions = append(page.Questions, buildQuestion(records))
	}
	if len(page.Questions) == 0 {
		page.Questions = []htmlQuestion{{Root: &htmlRun{}}}
	}
	page.Root = page.Questions[0].Root
	if err := pageTemplate.Execute(w, page); err != nil {
		return fmt.Errorf("rlm: write html: %w", err)
	}
	return nil
}

// htmlPage is what the template shows: one question, or the questions of
// a session one after another.
type htmlPage struct {
	Policy    string
	Root      *htmlRun // the first question's, for the title
	Questions []htmlQuestion
}

type htmlQuestion struct {
	Root *htmlRun
	// Orphans are runs whose parent call is not in the trajectory.
	Orphans []*htmlRun
}

// splitQuestions cuts a trajectory at each root run's start: a session's
// questions run one after another, each with a root run 0 of its own.
func splitQuestions(records []Record) [][]Record {
	var out [][]Record
	start := 0
	for i, rec := range records {
		if i > start && rec.Type == RecordRunStart && rec.RunStart.Run == 0 && rec.RunStart.Depth == 0 {
			out = append(out, records[start:i])
			start = i
		}
	}
	if start < len(records) {
		out = append(out, records[start:])
	}
	return out
}

type htmlRun struct {
	Start RunStartEvent
	End   *RunEndEvent
	Steps []*htmlStep
}

type htmlStep struct {
	Iteration int
	Event     *IterationEvent
	// Compactions happened before the reply was asked for.
	Compactions []*CompactionEvent
	Blocks      []*htmlBlock
	// Loose are sub-calls made outside a numbered block.
	Loose []*htmlSubCall
}

type htmlBlock struct {
	Block    int
	Event    *CodeBlockEvent
	SubCalls []*htmlSubCall
}

type htmlSubCall struct {
	Event SubCallEvent
	Child *htmlRun
}

// buildQuestion groups the records of one question into runs, steps,
// blocks and sub-calls.
func buildQuestion(records []Record) htmlQuestion {
	runs := map[int]*htmlRun{}
	getRun := func(id int) *htmlRun {
		if runs[id] == nil {
			runs[id] = &htmlRun{Start: RunStartEvent{Run: id}}
		}
		return runs[id]
	}
	getStep := func(run, iteration int) *htmlStep {
		r := getRun(run)
		for _, s := range r.Steps {
			if s.Iteration == iteration {
				return s
			}
		}
		s := &htmlStep{Iteration: iteration}
		r.Steps = append(r.Steps, s)
		return s
	}
	getBlock := func(run, iteration, block int) *htmlBlock {
		s := getStep(run, iteration)
		for _, b := range s.Blocks {
			if b.Block == block {
				return b
			}
		}
		b := &htmlBlock{Block: block}
		s.Blocks = append(s.Blocks, b)
		return b
	}
	calls := map[int64]*htmlSubCall{}
	for _, rec := range records {
		switch rec.Type {
		case RecordRunStart:
			getRun(rec.RunStart.Run).Start = *rec.RunStart
		case RecordRunEnd:
			getRun(rec.RunEnd.Run).End = rec.RunEnd
		case RecordIteration:
			getStep(rec.Iteration.Run, rec.Iteration.Iteration).Event = rec.Iteration
		case RecordCompaction:
			s := getStep(rec.Compaction.Run, rec.Compaction.Iteration)
			s.Compactions = append(s.Compactions, rec.Compaction)
		case RecordCodeBlock:
			e := rec.CodeBlock
			getBlock(e.Run, e.Iteration, e.Block).Event = e
		case RecordSubCall:
			e := rec.SubCall
			call := &htmlSubCall{Event: *e}
			calls[e.ID] = call
			if e.Block == 0 {
				s := getStep(e.Run, e.Iteration)
				s.Loose = append(s.Loose, call)
			} else {
				b := getBlock(e.Run, e.Iteration, e.Block)
				b.SubCalls = append(b.SubCalls, call)
			}
		}
	}
	var page htmlQuestion
	ids := make([]int, 0, len(runs))
	for id := range runs {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		r := runs[id]
		sortRun(r)
		switch {
		case id == 0:
			page.Root = r
		case calls[r.Start.ParentCall] != nil:
			calls[r.Start.ParentCall].Child = r
		default:
			page.Orphans = append(page.Orphans, r)
		}
	}
	if page.Root == nil {
		page.Root = &htmlRun{}
	}
	return page
}

func sortRun(r *htmlRun) {
	sort.Slice(r.Steps, func(i, j int) bool { return r.Steps[i].Iteration < r.Steps[j].Iteration })
	for _, s := range r.Steps {
		sort.Slice(s.Blocks, func(i, j int) bool { return s.Blocks[i].Block < s.Blocks[j].Block })
		for _, b := range s.Blocks {
			sortCalls(b.SubCalls)
		}
		sortCalls(s.Loose)
	}
}

func sortCalls(calls []*htmlSubCall) {
	sort.Slice(calls, func(i, j int) bool { return calls[i].Event.ID < calls[j].Event.ID })
}

// replySegment is a piece of a controller reply: prose or a fenced block.
type replySegment struct {
	Code bool
	Lang string
	Text string
}

// replySegments splits a reply into prose and fenced blocks, as
// splitFences reads it.
func replySegments(reply string) []replySegment {
	var segs []replySegment
	var prose []string
	flush := func() {
		if text := strings.Trim(strings.Join(prose, "\n"), "\n"); strings.TrimSpace(text) != "" {
			segs = append(segs, replySegment{Text: text})
		}
		prose = nil
	}
	lines := strings.Split(reply, "\n")
	for i := 0; i < len(lines); i++ {
		indent, ticks, info, ok := openingFence(lines[i])
		if !ok {
			prose = append(prose, lines[i])
			continue
		}
		flush()
		var code []string
		for i++; i < len(lines) && !closesFence(lines[i], ticks); i++ {
			code = append(code, stripIndent(lines[i], indent))
		}
		segs = append(segs, replySegment{Code: true, Lang: info, Text: strings.Join(code, "\n")})
	}
	flush()
	return segs
}

func formatDuration(d time.Duration) string {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
}

func sortedDepths(byDepth map[int]int) []int {
	depths := make([]int, 0, len(byDepth))
	for d := range byDepth {
		depths = append(depths, d)
	}
	sort.Ints(depths)
	return depths
}
