package trace

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/go-rlm/rlm/interp/export"
	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/rlm"
)

// SubCall is one recorded sub-call: where it came from, what the worker
// read and what it answered.
type SubCall struct {
	rlm.SubCallInfo // ID, Depth, Kind, Model, Document, Offset, Length, Query
	// Run is the RLM run that made the call: 0 for the root, child RLMs
	// from 1 (rlm.RunStartEvent.Run). Iteration and Block locate the code.
	Run, Iteration, Block int
	Answer                string
	Error                 string // why the call failed; empty when it did not
	// Prompt is the worker's prompt as the tokens it decoded, chat template
	// applied; nil when the worker was not traced (a child RLM's rlm_query,
	// a call refused by a budget).
	Prompt []llama.Token
	// Generated are the answer's tokens that were read back (see
	// [Generated]); read from a file, only those recorded.
	Generated []llama.Token
}

// PromptLast is the position of the prompt's last token, the position
// [PromptLast] records; -1 without a prompt.
func (s SubCall) PromptLast() int { return len(s.Prompt) - 1 }

func (s SubCall) clone() SubCall {
	s.Prompt = slices.Clone(s.Prompt)
	s.Generated = slices.Clone(s.Generated)
	return s
}

// The extra columns of a trace file, after export's fixed ones (run, hook,
// layer, sequence = the sub-call's ID, position, token_id, token_text,
// values). The package documentation describes each.
var columns = []export.Column{
	{Name: "rlm_run", Type: export.Int64},
	{Name: "depth", Type: export.Int64},
	{Name: "kind", Type: export.String},
	{Name: "model", Type: export.String},
	{Name: "document", Type: export.Int64},
	{Name: "chunk_offset", Type: export.Int64},
	{Name: "chunk_length", Type: export.Int64},
	{Name: "query", Type: export.String},
	{Name: "answer", Type: export.String},
	{Name: "error", Type: export.String},
	{Name: "iteration", Type: export.Int64},
	{Name: "block", Type: export.Int64},
	{Name: "position_kind", Type: export.String},
	{Name: "prompt_tokens", Type: export.Int64},
	{Name: "prompt", Type: export.String},
	{Name: "prompt_token_ids", Type: export.String},
}

// Columns lists the columns a trace file has after package export's fixed
// ones, in order (the package documentation describes each).
func Columns() []export.Column { return slices.Clone(columns) }

// Field returns the value of the trace column named column in a row read
// from a trace file: a string, an int64, or nil for null and for names that
// are not trace columns.
func Field(r *export.Row, column string) any {
	i := slices.IndexFunc(columns, func(c export.Column) bool { return c.Name == column })
	if i < 0 || i >= len(r.Extra) {
		return nil
	}
	return r.Extra[i]
}

// Indices into columns.
const (
	colRun = iota
	colDepth
	colKind
	colModel
	colDocument
	colOffset
	colLength
	colQuery
	colAnswer
	colError
	colIteration
	colBlock
	colPositionKind
	colPromptTokens
	colPrompt
	colPromptTokenIDs
)

// subCallColumns holds a sub-call's values of the extra columns, shared by
// all its rows but position_kind.
type subCallColumns struct{ extra []any }

func newSubCallColumns(sc SubCall, m *llama.Model) subCallColumns {
	extra := make([]any, len(columns))
	extra[colRun] = int64(sc.Run)
	extra[colDepth] = int64(sc.Depth)
	extra[colKind] = string(sc.Kind)
	if sc.Model != "" {
		extra[colModel] = sc.Model
	}
	extra[colDocument] = int64(sc.Document)
	extra[colOffset] = int64(sc.Offset)
	extra[colLength] = int64(sc.Length)
	extra[colQuery] = sc.Query
	extra[colAnswer] = sc.Answer
	if sc.Error != "" {
		extra[colError] = sc.Error
	}
	extra[colIteration] = int64(sc.Iteration)
	extra[colBlock] = int64(sc.Block)
	extra[colPromptTokens] = int64(len(sc.Prompt))
	if m != nil {
		if text, err := m.Detokenize(sc.Prompt, false, true); err == nil {
			extra[colPrompt] = text
		}
	}
	ids := make([]string, len(sc.Prompt))
	for i, t := range sc.Prompt {
		ids[i] = strconv.Itoa(int(t))
	}
	extra[colPromptTokenIDs] = strings.Join(ids, " ")
	return subCallColumns{extra: extra}
}

// values returns the row's extra values; the slice is reused by the next
// call (the writer copies it at once).
func (c subCallColumns) values(kind string) []any {
	c.extra[colPositionKind] = kind
	return c.extra
}

// ReadSubCalls reads the sub-calls of a trace file back, in the order of
// their ids, with the prompt's tokens: what [PatchSubCall] needs to re-run
// one. Generated holds the answer's tokens at the generated positions the
// file recorded.
func ReadSubCalls(ctx context.Context, path string) ([]SubCall, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("trace: read sub-calls: %w", err)
	}
	defer f.Close()
	byID := map[int64]*SubCall{}
	generated := map[int64]map[int]llama.Token{}
	err = export.ReadParquet(ctx, f, func(r *export.Row) error {
		if len(r.Extra) != len(columns) {
			return fmt.Errorf("%d extra columns, a trace has %d", len(r.Extra), len(columns))
		}
		sc, ok := byID[r.Sequence]
		if !ok {
			sc = &SubCall{}
			if err := sc.fromColumns(r.Sequence, r.Extra); err != nil {
				return err
			}
			byID[r.Sequence] = sc
			generated[r.Sequence] = map[int]llama.Token{}
		}
		if r.Extra[colPositionKind] == KindGenerated {
			generated[r.Sequence][r.Position] = llama.Token(r.TokenID)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("trace: read sub-calls: %s: %w", path, err)
	}
	out := make([]SubCall, 0, len(byID))
	for id, sc := range byID {
		// The generated positions follow the prompt without gaps, unless
		// some were not recorded: keep the run from the first one.
		for pos := len(sc.Prompt); ; pos++ {
			tok, ok := generated[id][pos]
			if !ok {
				break
			}
			sc.Generated = append(sc.Generated, tok)
		}
		out = append(out, *sc)
	}
	slices.SortFunc(out, func(a, b SubCall) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// fromColumns fills the sub-call from a row's extra columns.
func (s *SubCall) fromColumns(id int64, extra []any) error {
	str := func(i int) string { v, _ := extra[i].(string); return v }
	num := func(i int) int { v, _ := extra[i].(int64); return int(v) }
	s.SubCallInfo = rlm.SubCallInfo{ID: id, Depth: num(colDepth), Kind: rlm.SubCallKind(str(colKind)),
		Model: str(colModel), Document: num(colDocument), Offset: num(colOffset), Length: num(colLength), Query: str(colQuery)}
	s.Run, s.Iteration, s.Block = num(colRun), num(colIteration), num(colBlock)
	s.Answer, s.Error = str(colAnswer), str(colError)
	for _, f := range strings.Fields(str(colPromptTokenIDs)) {
		t, err := strconv.Atoi(f)
		if err != nil {
			return fmt.Errorf("sub-call %d: prompt token %q: %w", id, f, err)
		}
		s.Prompt = append(s.Prompt, llama.Token(t))
	}
	if len(s.Prompt) != num(colPromptTokens) {
		return fmt.Errorf("sub-call %d: %d prompt token ids for %d prompt tokens", id, len(s.Prompt), num(colPromptTokens))
	}
	return nil
}
