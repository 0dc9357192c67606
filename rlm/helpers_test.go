package rlm_test

import (
	"context"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/rlmtest"
)

// requirePython skips the test when no Python interpreter is installed:
// the engine's code runs in a Python REPL.
func requirePython(t *testing.T) {
	t.Helper()
	if _, err := lookPython(); err != nil {
		t.Skip("python3 not found: the engine's REPL needs it")
	}
}

func lookPython() (string, error) { return exec.LookPath("python3") }

// testContext bounds a test so that a hang fails it instead of the suite.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

var quiet = rlm.WithLogger(slog.New(slog.DiscardHandler))

// newRLM builds an engine with a quiet logger and an in-memory trajectory.
func newRLM(t *testing.T, controller, worker rlm.LM, opts ...rlm.Option) (*rlm.RLM, *rlm.Trajectory) {
	t.Helper()
	requirePython(t)
	traj := &rlm.Trajectory{}
	opts = append([]rlm.Option{quiet, rlm.WithObserver(traj.Observer())}, opts...)
	r, err := rlm.New(controller, worker, opts...)
	require.NoError(t, err)
	return r, traj
}

// chunkOf returns the document slice a sub-call is about, as the engine
// located it.
func chunkOf(ctx context.Context, document string) (string, bool) {
	info, ok := rlm.SubCallFromContext(ctx)
	if !ok || info.Offset < 0 {
		return "", false
	}
	return document[info.Offset : info.Offset+info.Length], true
}

// echoWorker answers every sub-call with the last message's text, so
// tests can see what the worker was sent.
func echoWorker() *rlmtest.LM {
	return rlmtest.Func(func(_ context.Context, _ int, messages []rlm.Message) (string, error) {
		return messages[len(messages)-1].Content, nil
	})
}

// lastUser is the last user message of a conversation.
func lastUser(messages []rlm.Message) string {
	for i := len(messages) - 1; i >= 0; i-- {
		if messages[i].Role == rlm.RoleUser {
			return messages[i].Content
		}
	}
	return ""
}

// events returns the trajectory's events of one type.
func subCalls(traj *rlm.Trajectory) []rlm.SubCallEvent {
	var out []rlm.SubCallEvent
	for _, r := range traj.Records {
		if r.Type == rlm.RecordSubCall {
			out = append(out, *r.SubCall)
		}
	}
	return out
}

func codeBlocks(traj *rlm.Trajectory) []rlm.CodeBlockEvent {
	var out []rlm.CodeBlockEvent
	for _, r := range traj.Records {
		if r.Type == rlm.RecordCodeBlock {
			out = append(out, *r.CodeBlock)
		}
	}
	return out
}

func iterations(traj *rlm.Trajectory) []rlm.IterationEvent {
	var out []rlm.IterationEvent
	for _, r := range traj.Records {
		if r.Type == rlm.RecordIteration {
			out = append(out, *r.Iteration)
		}
	}
	return out
}

// code joins lines of Python.
func code(lines ...string) string { return rlmtest.Code(strings.Join(lines, "\n")) }
