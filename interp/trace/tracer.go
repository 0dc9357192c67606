package trace

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/go-rlm/rlm/interp/export"
	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/local"
)

// Tracer records the activations of a local worker model during the
// sub-calls of RLM runs, into one Parquet file per run. Give
// [Tracer.GenerationHook] to local.WithGenerationHook and
// [Tracer.Observer] to rlm.WithObserver. A Tracer follows one RLM.Run at a
// time (sub-call ids are only unique within a run); it is safe for
// concurrent use by the goroutines of that run and of the worker.
type Tracer struct {
	cfg config
	dir string

	mu       sync.Mutex
	plans    map[*llama.Context]*plan // per worker context; nil: unresolvable
	run      *runFile                 // the run being traced, nil between runs
	runs     int                      // runs started
	subCalls []SubCall                // every sub-call reported, in order
	files    []string
	err      error // the first error the hooks and observers could not return
	closed   bool
}

// runFile is the trace of the run in progress.
type runFile struct {
	name    string // the run column's value and the file's base name
	path    string
	f       *os.File
	w       *export.ParquetWriter // made at the first row, to learn the width
	pending map[int64]*subCallTrace
}

// New makes a tracer that writes its files into dir, creating it if needed.
func New(dir string, opts ...Option) (*Tracer, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, fmt.Errorf("trace: new: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("trace: new: %w", err)
	}
	return &Tracer{cfg: cfg, dir: dir, plans: map[*llama.Context]*plan{}}, nil
}

// Observer returns the observer that opens a trace file when a run starts,
// writes each sub-call's rows once its answer is known and closes the file
// when the run ends. Child RLMs write into their root run's file.
func (t *Tracer) Observer() rlm.Observer {
	return rlm.Observer{RunStart: t.runStart, SubCall: t.subCall, RunEnd: t.runEnd}
}

// GenerationHook returns the hook that captures the worker's activations
// during each batched generation, attributing every row to its sub-call
// through the prompt's tag and taking each sub-call's prompt tokens from the
// worker, as it decodes them. Prompts that are not sub-calls (a zero
// rlm.SubCallInfo) and generations outside a run are not recorded.
func (t *Tracer) GenerationHook() local.GenerationHook { return t.generationHook }

// Files lists the trace files completed so far, in the order the runs
// started.
func (t *Tracer) Files() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.files)
}

// SubCalls lists every sub-call reported so far, of every run, with the
// tokens the worker read: what [PatchSubCall] re-runs.
func (t *Tracer) SubCalls() []SubCall {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]SubCall, len(t.subCalls))
	for i, sc := range t.subCalls {
		out[i] = sc.clone()
	}
	return out
}

// Err returns the first error the tracer met in a hook or an observer,
// where it could not return it: an unknown hook name, a file that could not
// be written.
func (t *Tracer) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Close finishes the file of a run that has not ended and stops recording.
// It returns the first error the tracer met ([Tracer.Err]). It is safe to
// call more than once and on nil.
func (t *Tracer) Close() error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	t.finishRun()
	return t.err
}

// fail keeps the first error and logs every one. t.mu is held.
func (t *Tracer) fail(err error) {
	if t.err == nil {
		t.err = err
	}
	t.cfg.logger.Error("trace: recording failed", "err", err)
}

func (t *Tracer) runStart(e rlm.RunStartEvent) {
	if e.Depth != 0 {
		return // a child RLM: its sub-calls go into the root's file
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.finishRun()
	t.runs++
	f, name, err := createRunFile(t.dir, t.cfg.prefix, t.runs)
	if err != nil {
		t.fail(fmt.Errorf("trace: run start: %w", err))
		return
	}
	t.run = &runFile{name: name, path: f.Name(), f: f, pending: map[int64]*subCallTrace{}}
}

// createRunFile creates PREFIX-NNN.parquet in dir with the first number,
// from n, that no file has yet.
func createRunFile(dir, prefix string, n int) (*os.File, string, error) {
	for ; ; n++ {
		name := fmt.Sprintf("%s-%03d", prefix, n)
		f, err := os.OpenFile(filepath.Join(dir, name+".parquet"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		return f, name, err
	}
}

func (t *Tracer) subCall(e rlm.SubCallEvent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.run == nil {
		return
	}
	sc := SubCall{SubCallInfo: e.SubCallInfo, Run: e.Run, Iteration: e.Iteration, Block: e.Block, Answer: e.Answer, Error: e.Error}
	if p := t.run.pending[e.ID]; p != nil {
		delete(t.run.pending, e.ID)
		sc.Prompt, sc.Generated = p.tokens()
		t.write(t.run, p, sc)
	}
	t.subCalls = append(t.subCalls, sc)
}

func (t *Tracer) runEnd(e rlm.RunEndEvent) {
	if e.Depth != 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.finishRun()
}

// errUnanswered is the error column of the sub-calls a run did not report
// before it ended.
const errUnanswered = "trace: the run ended before the engine reported this sub-call's answer"

// finishRun writes the rows of sub-calls whose answer never came (a
// cancelled run), closes the run's file and lists it. t.mu is held.
func (t *Tracer) finishRun() {
	r := t.run
	if r == nil {
		return
	}
	t.run = nil
	ids := make([]int64, 0, len(r.pending))
	for id := range r.pending {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		p := r.pending[id]
		sc := SubCall{SubCallInfo: p.call, Error: errUnanswered}
		sc.Prompt, sc.Generated = p.tokens()
		t.write(r, p, sc)
		t.subCalls = append(t.subCalls, sc)
	}
	if r.w == nil {
		// No rows: still a valid, empty table.
		if err := t.openWriter(r, 0); err != nil {
			t.fail(err)
		}
	}
	if r.w != nil {
		if err := r.w.Close(); err != nil {
			t.fail(fmt.Errorf("trace: %s: %w", r.path, err))
		}
	}
	if err := r.f.Close(); err != nil {
		t.fail(fmt.Errorf("trace: %s: %w", r.path, err))
	}
	t.files = append(t.files, r.path)
}

func (t *Tracer) openWriter(r *runFile, width int) error {
	opts := append(slices.Clone(t.cfg.export), export.WithColumns(columns...))
	w, err := export.NewParquetWriter(r.f, width, opts...)
	if err != nil {
		return fmt.Errorf("trace: %s: %w", r.path, err)
	}
	r.w = w
	return nil
}

// write writes a sub-call's rows to the run's file, with sc's columns.
// t.mu is held.
func (t *Tracer) write(r *runFile, p *subCallTrace, sc SubCall) {
	if len(p.rows) == 0 {
		return
	}
	if r.w == nil {
		// The first rows fix the file's width: one width for all, or any.
		width := len(p.rows[0].values)
		for _, row := range p.rows {
			if len(row.values) != width {
				width = 0
				break
			}
		}
		if err := t.openWriter(r, width); err != nil {
			t.fail(err)
			return
		}
	}
	meta := newSubCallColumns(sc, p.model)
	pieces := map[llama.Token]string{}
	for _, row := range p.rows {
		piece, ok := pieces[row.token]
		if !ok {
			piece, _ = p.model.TokenPiece(row.token, true)
			pieces[row.token] = piece
		}
		err := r.w.Write(export.Row{
			Run: r.name, Hook: row.hook, Layer: row.layer, Sequence: sc.ID, Position: row.pos,
			TokenID: int(row.token), TokenText: piece, Values: row.values, Extra: meta.values(row.kind),
		})
		if err != nil {
			t.fail(fmt.Errorf("trace: %s: sub-call %d: %w", r.path, sc.ID, err))
			return
		}
	}
}
