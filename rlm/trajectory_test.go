package rlm

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// injection is model output that would run script if the page did not
// escape it.
const injection = `<script>document.body.setAttribute("data-pwned","1")</script><img src=x onerror="document.body.setAttribute('data-pwned','2')">`

// sampleObserverCalls feeds an observer the events of a small run with a
// child RLM, as the engine would, and returns the root's result.
func sampleObserverCalls(o Observer) Result {
	o.RunStart(RunStartEvent{Run: 0, Question: "How many rolls? " + injection, DocumentLength: 1200,
		SystemPrompt: "You are the controller.", FirstMessage: "The document is loaded.", MaxIterations: 30})
	o.SubCall(SubCallEvent{
		SubCallInfo: SubCallInfo{ID: 1, Depth: 1, Kind: KindSubCall, Offset: 0, Length: 600, Query: "count rolls"},
		Run:         0, Iteration: 1, Block: 1, Batch: 2, BatchIndex: 0,
		Answer: "3 " + injection, PromptTokens: 150, CompletionTokens: 2, Duration: 40 * time.Millisecond,
	})
	o.SubCall(SubCallEvent{
		SubCallInfo: SubCallInfo{ID: 2, Depth: 1, Kind: KindSubCall, Offset: 600, Length: 600, Query: "count rolls"},
		Run:         0, Iteration: 1, Block: 1, Batch: 2, BatchIndex: 1,
		Error: "worker exploded", Duration: 10 * time.Millisecond,
	})
	o.CodeBlock(CodeBlockEvent{Run: 0, Iteration: 1, Block: 1, Code: "answers = sub_call(chunks, 'count rolls')\nprint(answers)",
		Stdout: "['3', 'Error: worker exploded'] " + injection, Changed: []string{"answers"}, Duration: 60 * time.Millisecond, SubCalls: 2})
	o.CodeBlock(CodeBlockEvent{Run: 0, Iteration: 1, Block: 2, Code: "1/0",
		Exception: &Exception{Type: "ZeroDivisionError", Message: "division by zero", Traceback: "Traceback...\nZeroDivisionError: division by zero"},
		Duration:  time.Millisecond})
	o.Iteration(IterationEvent{Run: 0, Iteration: 1, Reply: "Split it.\n```repl\nanswers = sub_call(chunks, 'count rolls')\nprint(answers)\n```\n" + injection + "\n```repl\n1/0\n```",
		Blocks: 2, PromptTokens: 900, CompletionTokens: 40, ControllerTime: time.Second, CodeTime: 70 * time.Millisecond,
		Feedback: "Block 1 ran..."})
	o.RunStart(RunStartEvent{Run: 1, Depth: 1, ParentCall: 3, Question: "Who rolled?", DocumentLength: 600,
		SystemPrompt: "You are the controller.", FirstMessage: "The document is loaded.", MaxIterations: 30})
	o.Iteration(IterationEvent{Run: 1, Depth: 1, Iteration: 1, Reply: "FINAL(Vex)", Final: true, Answer: "Vex"})
	o.RunEnd(RunEndEvent{Run: 1, Depth: 1, Result: Result{Answer: "Vex", Final: true, Stop: StopFinal, Stats: Stats{Runs: 1, Iterations: 1}}})
	o.SubCall(SubCallEvent{
		SubCallInfo: SubCallInfo{ID: 3, Depth: 1, Kind: KindRLMQuery, Offset: -1, Length: 600, Query: "Who rolled?"},
		Run:         0, Iteration: 2, Block: 1, Batch: 1, Answer: "Vex", ChildRun: 1, Duration: 2 * time.Second,
	})
	o.CodeBlock(CodeBlockEvent{Run: 0, Iteration: 2, Block: 1, Code: "who = rlm_query(context[:600], 'Who rolled?')\nFINAL(who)",
		Duration: 2 * time.Second, SubCalls: 1, Final: true, Answer: "Vex"})
	o.Iteration(IterationEvent{Run: 0, Iteration: 2, Reply: "```repl\nwho = rlm_query(context[:600], 'Who rolled?')\nFINAL(who)\n```",
		Blocks: 1, Final: true, Answer: "Vex"})
	result := Result{Answer: "Vex " + injection, Final: true, Stop: StopFinal, Stats: Stats{
		Runs: 2, Iterations: 3, CodeBlocks: 3, CodeBlocksFailed: 1, SubCalls: 3, SubCallsFailed: 1,
		SubCallsByDepth: map[int]int{1: 3}, Controller: Usage{Calls: 3, PromptTokens: 2000, CompletionTokens: 80},
		Worker: Usage{Calls: 1, PromptTokens: 150, CompletionTokens: 2},
		Time:   Timing{Total: 4 * time.Second, Controller: 2 * time.Second, Code: 2 * time.Second, Worker: 50 * time.Millisecond},
	}}
	o.RunEnd(RunEndEvent{Run: 0, Result: result})
	return result
}

func TestTrajectoryWriterRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	tw := NewTrajectoryWriter(&buf)
	want := sampleObserverCalls(tw.Observer())
	require.NoError(t, tw.Err())

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	assert.Len(t, lines, 13, "one line per event")
	assert.Contains(t, lines[0], `"type":"run_start"`)

	traj, err := ReadTrajectory(&buf)
	require.NoError(t, err)
	require.Len(t, traj.Records, 13)
	got, ok := traj.Result()
	require.True(t, ok)
	assert.Equal(t, want, got)

	counts := map[RecordType]int{}
	for _, r := range traj.Records {
		counts[r.Type]++
		assert.False(t, r.Time.IsZero())
	}
	assert.Equal(t, map[RecordType]int{RecordRunStart: 2, RecordIteration: 3, RecordCodeBlock: 3, RecordSubCall: 3, RecordRunEnd: 2}, counts)
	e := traj.Records[1].SubCall
	require.NotNil(t, e)
	assert.Equal(t, SubCallEvent{
		SubCallInfo: SubCallInfo{ID: 1, Depth: 1, Kind: KindSubCall, Offset: 0, Length: 600, Query: "count rolls"},
		Run:         0, Iteration: 1, Block: 1, Batch: 2, BatchIndex: 0,
		Answer: "3 " + injection, PromptTokens: 150, CompletionTokens: 2, Duration: 40 * time.Millisecond,
	}, *e)
	assert.Equal(t, "ZeroDivisionError", traj.Records[4].CodeBlock.Exception.Type)
}

func TestTrajectoryInMemoryMatchesJSONL(t *testing.T) {
	var traj Trajectory
	want := sampleObserverCalls(traj.Observer())
	got, ok := traj.Result()
	require.True(t, ok)
	assert.Equal(t, want, got)

	var buf bytes.Buffer
	require.NoError(t, traj.WriteJSONL(&buf))
	back, err := ReadTrajectory(&buf)
	require.NoError(t, err)
	assert.Equal(t, traj.Records, back.Records)
}

func TestTrajectoryWithoutEnd(t *testing.T) {
	var traj Trajectory
	traj.Observer().RunStart(RunStartEvent{Question: "q"})
	_, ok := traj.Result()
	assert.False(t, ok)
}

func TestReadTrajectoryRejectsMalformedLines(t *testing.T) {
	good := `{"type":"run_start","time":"2025-01-01T00:00:00Z","run_start":{"run":0,"depth":0,"question":"q","document_length":1,"system_prompt":"s","first_message":"f","max_iterations":30}}`
	tests := []struct {
		name  string
		input string
		line  string
	}{
		{"not json", good + "\n{oops\n", "line 2"},
		{"cut short by a crash", good + "\n" + good[:40], "line 2"},
		{"unknown type", `{"type":"dance","time":"2025-01-01T00:00:00Z"}`, "line 1"},
		{"type without its event", `{"type":"sub_call","time":"2025-01-01T00:00:00Z"}`, "line 1"},
		{"bad stop reason", `{"type":"run_end","time":"2025-01-01T00:00:00Z","run_end":{"run":0,"depth":0,"result":{"stop":"bored"}}}`, "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadTrajectory(strings.NewReader(tt.input))
			require.ErrorIs(t, err, ErrTrajectory)
			assert.Contains(t, err.Error(), tt.line)
		})
	}
}

func TestReadTrajectorySkipsBlankLines(t *testing.T) {
	good := `{"type":"run_start","time":"2025-01-01T00:00:00Z","run_start":{"run":0,"depth":0,"question":"q","document_length":1,"system_prompt":"s","first_message":"f","max_iterations":30}}`
	traj, err := ReadTrajectory(strings.NewReader("\n" + good + "\n\n  \n" + good))
	require.NoError(t, err)
	assert.Len(t, traj.Records, 2)
}

type failingWriter struct{ writes int }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.writes++
	return 0, errors.New("disk full")
}

func TestTrajectoryWriterKeepsFirstError(t *testing.T) {
	w := &failingWriter{}
	tw := NewTrajectoryWriter(w)
	sampleObserverCalls(tw.Observer())
	require.Error(t, tw.Err())
	assert.Contains(t, tw.Err().Error(), "disk full")
	assert.Equal(t, 1, w.writes, "nothing written after the first failure")
}

func TestTrajectoryWriterConcurrentEvents(t *testing.T) {
	var buf bytes.Buffer
	tw := NewTrajectoryWriter(&buf)
	o := tw.Observer()
	var wg sync.WaitGroup
	for i := 1; i <= 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.SubCall(SubCallEvent{SubCallInfo: SubCallInfo{ID: int64(i), Depth: 1, Kind: KindLLMQuery}, Answer: strings.Repeat("x", i)})
		}()
	}
	wg.Wait()
	traj, err := ReadTrajectory(&buf)
	require.NoError(t, err)
	ids := map[int64]bool{}
	for _, r := range traj.Records {
		ids[r.SubCall.ID] = true
		assert.Len(t, r.SubCall.Answer, int(r.SubCall.ID), "lines did not interleave")
	}
	assert.Len(t, ids, 50)
}

func TestStopReasonText(t *testing.T) {
	for reason := StopFinal; reason <= StopError; reason++ {
		text, err := reason.MarshalText()
		require.NoError(t, err)
		assert.Equal(t, reason.String(), string(text))
		var back StopReason
		require.NoError(t, back.UnmarshalText(text))
		assert.Equal(t, reason, back)
	}
	assert.Equal(t, "StopReason(99)", StopReason(99).String())
	_, err := StopReason(99).MarshalText()
	assert.Error(t, err)
}
