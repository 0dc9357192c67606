package main

import (
	"bytes"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm"
)

// TestInterruptedRunExits75 sends SIGTERM (SLURM's preemption, scancel)
// to a run in the middle of its second example, whose controller request
// is held: the command keeps the first example, says how to resume, and
// exits 75, the status a scheduler may requeue on; a rerun finishes.
func TestInterruptedRunExits75(t *testing.T) {
	dir := t.TempDir()
	data := writeSplit(t, dir, smallExamples(3))
	inSecond := make(chan struct{}, 1)
	var held atomic.Bool
	ctrl := newHookedController(t, func(r *http.Request, messages []rlm.Message) bool {
		if strings.Contains(messages[1].Content, "(1)") && startsExample(messages) && held.CompareAndSwap(false, true) {
			inSecond <- struct{}{}
			<-r.Context().Done()
		}
		return false
	})
	out := filepath.Join(dir, "out")
	args := testArgs(data, ctrl.URL, workerModel(t), "-out", out)

	var stderr bytes.Buffer
	cmd := exec.Command(binary, args...)
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	<-inSecond
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	err := cmd.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, stderr.String())
	assert.Equal(t, exitInterrupted, exit.ExitCode(), stderr.String())
	assert.Contains(t, stderr.String(), "rerun the same command to resume")
	records, err := readJournal(filepath.Join(out, journalName))
	require.NoError(t, err)
	require.Len(t, records, 1, "the first example is kept")

	r := evaluate(t, nil, args...)
	require.Equal(t, 0, r.code, r.stderr)
	records, err = readJournal(filepath.Join(out, journalName))
	require.NoError(t, err)
	assert.Len(t, records, 3)
}
