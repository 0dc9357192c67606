package rlm

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// RecordType names the event a trajectory [Record] holds.
type RecordType string

// The record types, one per [Observer] callback.
const (
	RecordRunStart   RecordType = "run_start"
	RecordIteration  RecordType = "iteration"
	RecordCodeBlock  RecordType = "code_block"
	RecordSubCall    RecordType = "sub_call"
	RecordRunEnd     RecordType = "run_end"
	RecordCompaction RecordType = "compaction"
)

// Record is one line of a JSONL trajectory: the time of an event and the
// event itself, in the field its Type names.
type Record struct {
	Type       RecordType       `json:"type"`
	Time       time.Time        `json:"time"`
	RunStart   *RunStartEvent   `json:"run_start,omitempty"`
	Iteration  *IterationEvent  `json:"iteration,omitempty"`
	CodeBlock  *CodeBlockEvent  `json:"code_block,omitempty"`
	SubCall    *SubCallEvent    `json:"sub_call,omitempty"`
	RunEnd     *RunEndEvent     `json:"run_end,omitempty"`
	Compaction *CompactionEvent `json:"compaction,omitempty"`
}

// validate checks that the record holds the event its type names.
func (r *Record) validate() error {
	var present bool
	switch r.Type {
	case RecordRunStart:
		present = r.RunStart != nil
	case RecordIteration:
		present = r.Iteration != nil
	case RecordCodeBlock:
		present = r.CodeBlock != nil
	case RecordSubCall:
		present = r.SubCall != nil
	case RecordRunEnd:
		present = r.RunEnd != nil
	case RecordCompaction:
		present = r.Compaction != nil
	default:
		return fmt.Errorf("unknown record type %q", r.Type)
	}
	if !present {
		return fmt.Errorf("%s record without its %s field", r.Type, r.Type)
	}
	return nil
}

// recordObserver returns an observer that hands each event to add as a
// Record stamped with the current time.
func recordObserver(add func(Record)) Observer {
	now := func() time.Time { return time.Now().UTC() }
	return Observer{
		RunStart:  func(e RunStartEvent) { add(Record{Type: RecordRunStart, Time: now(), RunStart: &e}) },
		Iteration: func(e IterationEvent) { add(Record{Type: RecordIteration, Time: now(), Iteration: &e}) },
		CodeBlock: func(e CodeBlockEvent) { add(Record{Type: RecordCodeBlock, Time: now(), CodeBlock: &e}) },
		SubCall:   func(e SubCallEvent) { add(Record{Type: RecordSubCall, Time: now(), SubCall: &e}) },
		RunEnd:    func(e RunEndEvent) { add(Record{Type: RecordRunEnd, Time: now(), RunEnd: &e}) },
		Compaction: func(e CompactionEvent) {
			add(Record{Type: RecordCompaction, Time: now(), Compaction: &e})
		},
	}
}

// TrajectoryWriter writes the events of runs to an io.Writer as JSONL, one
// [Record] a line, as they happen: a run that crashes leaves the trajectory
// up to the crash. It is safe for concurrent use.
type TrajectoryWriter struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

// NewTrajectoryWriter returns a writer to w; pass its [TrajectoryWriter.Observer]
// to [WithObserver].
func NewTrajectoryWriter(w io.Writer) *TrajectoryWriter {
	return &TrajectoryWriter{w: w}
}

// Observer returns the observer that writes the records.
func (tw *TrajectoryWriter) Observer() Observer { return recordObserver(tw.write) }

// Err returns the first error met while writing; after one, nothing more
// is written.
func (tw *TrajectoryWriter) Err() error {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return tw.err
}

func (tw *TrajectoryWriter) write(r Record) {
	line, err := json.Marshal(r)
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.err != nil {
		return
	}
	if err != nil {
		tw.err = fmt.Errorf("rlm: write trajectory: %w", err)
		return
	}
	if _, err := tw.w.Write(append(line, '\n')); err != nil {
		tw.err = fmt.Errorf("rlm: write trajectory: %w", err)
	}
}

// Trajectory is the record of one run, child RLMs included: its events in
// the order they happened. Collect one in memory with
// [Trajectory.Observer], or read one back with [ReadTrajectory]. A
// Trajectory is safe for concurrent use, but records of concurrent runs
// would interleave: use one per run.
type Trajectory struct {
	mu      sync.Mutex
	Records []Record
}

// Observer returns an observer that appends the events of runs to t.
func (t *Trajectory) Observer() Observer {
	return recordObserver(func(r Record) {
		t.mu.Lock()
		t.Records = append(t.Records, r)
		t.mu.Unlock()
	})
}

// records returns a snapshot of the records.
func (t *Trajectory) records() []Record {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Record(nil), t.Records...)
}

// Result returns the result of the root run (for a session's trajectory,
// the first question's); ok is false when the trajectory does not reach the
// end of the root run.
func (t *Trajectory) Result() (res Result, ok bool) {
	for _, r := range t.records() {
		if r.Type == RecordRunEnd && r.RunEnd.Run == 0 {
			return r.RunEnd.Result, true
		}
	}
	return Result{}, false
}

// WriteJSONL writes the records as JSONL, the format [ReadTrajectory]
// reads.
func (t *Trajectory) WriteJSONL(w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, r := range t.records() {
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("rlm: write trajectory: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("rlm: write trajectory: %w", err)
	}
	return nil
}

// ErrTrajectory is wrapped by the errors of [ReadTrajectory] for input that
// is not a trajectory.
var ErrTrajectory = errors.New("rlm: malformed trajectory")

// ReadTrajectory reads a JSONL trajectory, as [TrajectoryWriter] and
// [Trajectory.WriteJSONL] write it. Blank lines are skipped. A last line
// cut short, as a crash leaves it, is an error like any malformed line.
func ReadTrajectory(r io.Reader) (*Trajectory, error) {
	br := bufio.NewReader(r)
	t := &Trajectory{}
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && len(bytes.TrimSpace(line)) > 0 {
			var rec Record
			if jerr := json.Unmarshal(line, &rec); jerr != nil {
				return t, fmt.Errorf("%w: line %d: %v", ErrTrajectory, lineNo, jerr)
			}
			if verr := rec.validate(); verr != nil {
				return t, fmt.Errorf("%w: line %d: %v", ErrTrajectory, lineNo, verr)
			}
			t.Records = append(t.Records, rec)
		}
		if errors.Is(err, io.EOF) {
			return t, nil
		}
		if err != nil {
			return t, fmt.Errorf("rlm: read trajectory: %w", err)
		}
	}
}
