package repl_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/repl"
)

// pidOf returns the pid, as the host sees it, of the REPL's current Python
// process (the init of its pid namespace, whose process group holds the
// REPL too). It only asserts, so that goroutines other than the test's may
// call it.
func pidOf(t *testing.T, r *repl.REPL) int {
	t.Helper()
	res, err := r.Exec(context.Background(), "import os\nprint(os.getpid())")
	assert.NoError(t, err)
	_, err = strconv.Atoi(strings.TrimSpace(res.Stdout))
	assert.NoError(t, err, "%+v", res)
	return repl.HostPID(r)
}

// processState returns the state letter of pid and its parent, or "" if it
// does not exist.
func processState(pid int) (state string, ppid int) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0
	}
	// pid (comm) state ppid ...: comm may contain spaces, so split after ')'.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	ppid, _ = strconv.Atoi(fields[1])
	return fields[0], ppid
}

// processGroup lists the processes whose process group is pgid.
func processGroup(pgid int) []int {
	entries, _ := os.ReadDir("/proc")
	var members []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
		if g, _ := strconv.Atoi(fields[2]); g == pgid {
			members = append(members, pid)
		}
	}
	return members
}

// inPidNamespace lists the processes in the pid namespace ns (as
// /proc/PID/ns/pid names it).
func inPidNamespace(ns string) []int {
	entries, _ := os.ReadDir("/proc")
	var members []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err == nil && link == ns {
			members = append(members, pid)
		}
	}
	return members
}

// eventually polls cond for up to a generous deadline: it waits for the
// kernel and the runtime to catch up, it does not measure speed.
func eventually(cond func() bool) bool {
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// Not parallel, so that the goroutine count is this test's alone. Several
// REPLs run side by side, go through every kind of restart, and are closed:
// afterwards no Python process of theirs remains (not even a zombie), no
// process is left in their process groups or their pid namespaces, and no
// goroutine is left over.
func TestCloseLeavesNoProcessesOrGoroutines(t *testing.T) {
	runtime.GC()
	baseline := runtime.NumGoroutine()

	const n = 4
	var (
		mu   sync.Mutex
		pids []int
		nss  []string
	)
	record := func(pid int) {
		mu.Lock()
		pids = append(pids, pid)
		if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err == nil {
			nss = append(nss, ns)
		}
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ctx := context.Background()
			r, err := repl.Start(ctx, append(testOptions(t),
				repl.WithTimeout(5*time.Second), repl.WithInterruptGrace(500*time.Millisecond),
				repl.WithFunc("sub_call", countWord("roll")),
				repl.WithBatchFunc("llm_query_batched", 4, func(_ context.Context, item any) (any, error) { return item, nil }))...)
			if !assert.NoError(t, err) {
				return
			}
			defer func() { assert.NoError(t, r.Close()) }()
			assert.NoError(t, r.Set(testContext(t), "context", strings.Repeat("roll ", 1000*(i+1))))

			record(pidOf(t, r))
			res, err := r.Exec(ctx, fmt.Sprintf("mine = %d\nprint(sub_call(context, 'q'), llm_query_batched([1, 2]))", i))
			assert.NoError(t, err)
			assert.Equal(t, fmt.Sprintf("%d [1, 2]\n", 1000*(i+1)), res.Stdout)
			for _, code := range []string{
				"import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass", // killed
				"import os\nos._exit(0)",                          // exits
				"import os\nos.write(1 << 15, b'x')\nos.close(4)", // harmless or fatal, either way contained
			} {
				_, err := r.Exec(ctx, code)
				assert.NoError(t, err)
				record(pidOf(t, r))
			}
			res, err = r.Exec(ctx, fmt.Sprintf("mine = %d\nprint(mine, sub_call(context, 'q'))", i))
			assert.NoError(t, err)
			assert.Equal(t, fmt.Sprintf("%d %d\n", i, 1000*(i+1)), res.Stdout, "each REPL has its own state")
		})
	}
	wg.Wait()

	for _, pid := range pids {
		state, ppid := processState(pid)
		assert.False(t, state != "" && ppid == os.Getpid(), "process %d is still a child of the test (state %s)", pid, state)
		assert.Empty(t, processGroup(pid), "process group %d is empty", pid)
	}
	own, err := os.Readlink("/proc/self/ns/pid")
	require.NoError(t, err)
	assert.NotEmpty(t, nss)
	for _, ns := range nss {
		if ns != own {
			assert.Empty(t, inPidNamespace(ns), "pid namespace %s is empty", ns)
		}
	}
	assert.True(t, eventually(func() bool { return runtime.NumGoroutine() <= baseline }),
		"goroutines: %d before, %d after", baseline, runtime.NumGoroutine())
}

func TestCloseDuringACell(t *testing.T) {
	t.Parallel()
	r, err := repl.Start(testContext(t), testOptions(t)...)
	require.NoError(t, err)
	pid := pidOf(t, r)
	done := make(chan error, 1)
	go func() {
		_, err := r.Exec(context.Background(), "started = True\nwhile True: pass")
		done <- err
	}()
	require.True(t, eventually(func() bool {
		v, _ := r.Get(testContext(t), "started")
		return v == true
	}))
	require.NoError(t, r.Close())
	assert.ErrorIs(t, <-done, repl.ErrClosed)
	state, ppid := processState(pid)
	assert.False(t, state != "" && ppid == os.Getpid(), "the Python process is reaped")
}

// Cells of one REPL run one at a time, whatever the number of callers.
func TestConcurrentExecsAreSerialized(t *testing.T) {
	t.Parallel()
	r := start(t)
	run(t, r, "total = 0")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			// Not atomic in Python if two cells overlapped: read, yield, write.
			_, err := r.Exec(testContext(t), "import time\nt = total\ntime.sleep(0.001)\ntotal = t + 1")
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	res := run(t, r, "print(total)")
	assert.Equal(t, "8\n", res.Stdout)
}
