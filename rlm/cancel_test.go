package rlm_test

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/rlmtest"
)

// waitForGoroutines waits until no more goroutines run than baseline, and
// reports whether that happened within a generous bound.
func waitForGoroutines(baseline int) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if runtime.NumGoroutine() <= baseline {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// replGone reports whether the Python process that printed "PID PIDNS" (its
// pid and pid namespace, as it sees them) is gone. In a pid namespace of its
// own (the REPL's default) the pid is the namespace's, so the check is that
// no process is left in that namespace.
func replGone(t *testing.T, printed string) bool {
	fields := strings.Fields(printed)
	require.Len(t, fields, 2, "%q", printed)
	pid, err := strconv.Atoi(fields[0])
	require.NoError(t, err)
	own, err := os.Readlink("/proc/self/ns/pid")
	require.NoError(t, err)
	if fields[1] == own {
		return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
	}
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	for _, e := range entries {
		if ns, err := os.Readlink("/proc/" + e.Name() + "/ns/pid"); err == nil && ns == fields[1] {
			return false
		}
	}
	return true
}

func TestCancelDuringSubCall(t *testing.T) {
	requirePython(t)
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	started := make(chan struct{})
	worker := rlmtest.Func(func(ctx context.Context, _ int, _ []rlm.Message) (string, error) {
		close(started)
		<-ctx.Done()
		return "", ctx.Err()
	})
	controller := rlmtest.Replies([]string{
		code("import os", "print(os.getpid(), os.readlink('/proc/self/ns/pid'))"),
		code("print(llm_query_batched(['wait', 'wait more']))"),
	})
	r, traj := newRLM(t, controller, rlmtest.Batch(worker))
	baseline := runtime.NumGoroutine()
	go func() {
		<-started
		cancel()
	}()

	res, err := r.Run(ctx, smallDoc, "q?")

	require.Error(t, err)
	assert.True(t, errors.Is(err, context.Canceled), "the error wraps ctx.Err(): %v", err)
	assert.Equal(t, rlm.StopCancelled, res.Stop)
	blocks := codeBlocks(traj)
	require.NotEmpty(t, blocks)
	assert.True(t, replGone(t, blocks[0].Stdout), "the REPL's Python process is gone")
	assert.True(t, waitForGoroutines(baseline), "goroutines left behind: %d > %d", runtime.NumGoroutine(), baseline)
}

func TestCancelDuringControllerCall(t *testing.T) {
	requirePython(t)
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	controller := rlmtest.Func(func(ctx context.Context, call int, _ []rlm.Message) (string, error) {
		cancel()
		<-ctx.Done()
		return "", ctx.Err()
	})
	r, _ := newRLM(t, controller, nil)
	baseline := runtime.NumGoroutine()
	res, err := r.Run(ctx, smallDoc, "q?")
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, rlm.StopCancelled, res.Stop)
	assert.True(t, waitForGoroutines(baseline), "goroutines left behind")
}
