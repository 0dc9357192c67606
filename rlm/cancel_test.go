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

// whoAmI is Python that prints "PID PIDNS": the pid of its process and its
// pid namespace, as it sees them.
const whoAmI = "import os\nprint(os.getpid(), os.readlink('/proc/self/ns/pid'))"

// replProcesses returns, as the host sees them, the processes of the Python
// process that printed whoAmI: the process itself when it shares the
// host's pid namespace, else every process of its own namespace (the REPL's
// default: there its pid is the namespace's, which names another process on
// the host).
func replProcesses(t *testing.T, printed string) []int {
	t.Helper()
	fields := strings.Fields(printed)
	require.Len(t, fields, 2, "%q", printed)
	pid, err := strconv.Atoi(fields[0])
	require.NoError(t, err)
	own, err := os.Readlink("/proc/self/ns/pid")
	require.NoError(t, err)
	if fields[1] == own {
		if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			return nil
		}
		return []int{pid}
	}
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var pids []int
	for _, e := range entries {
		if ns, err := os.Readlink("/proc/" + e.Name() + "/ns/pid"); err == nil && ns == fields[1] {
			if p, err := strconv.Atoi(e.Name()); err == nil {
				pids = append(pids, p)
			}
		}
	}
	return pids
}

// replGone reports whether the Python process that printed whoAmI is gone.
func replGone(t *testing.T, printed string) bool { return len(replProcesses(t, printed)) == 0 }

// killREPL kills the Python process that printed whoAmI, as the kernel would
// for lack of memory.
func killREPL(t *testing.T, printed string) {
	t.Helper()
	pids := replProcesses(t, printed)
	require.NotEmpty(t, pids, "the REPL's process is alive")
	for _, pid := range pids {
		// Killing a namespace's init kills the rest of it: they may be gone.
		if err := syscall.Kill(pid, syscall.SIGKILL); !errors.Is(err, syscall.ESRCH) {
			require.NoError(t, err)
		}
	}
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
		code(whoAmI),
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
