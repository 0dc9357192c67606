package repl

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// warnings counts the records a logger receives at Warn and above.
type warnings struct {
	mu      sync.Mutex
	records []slog.Record
}

func (w *warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.records = append(w.records, r)
	return nil
}
func (w *warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnings) WithGroup(string) slog.Handler      { return w }

// A planned layer the process could not apply is reported missing, with
// the reason the bootstrap gave; best effort warns once per REPL, strict
// refuses.
func TestMissingLayers(t *testing.T) {
	plan := sandboxPlan{level: IsolationBestEffort, namespaces: true, scratchQuota: 1 << 20,
		landlock: planLandlock(7, "/scratch", nil), seccomp: true}
	full := childReport{Namespaces: true, ScratchQuota: 1 << 20, Capabilities: true, NoNewPrivs: true, Landlock: 7, Seccomp: true}
	l := plan.layers(full)
	assert.Empty(t, l.Missing)
	assert.Equal(t, int64(1<<20), l.DiskQuota)

	partial := full
	partial.Landlock = 0
	partial.Errors = map[string]string{"landlock": "Function not implemented"}
	l = plan.layers(partial)
	assert.Equal(t, []string{"landlock: Function not implemented"}, l.Missing)

	noNS := plan
	noNS.namespaces, noNS.noNamespaces = false, "operation not permitted"
	l = noNS.layers(childReport{Capabilities: true, NoNewPrivs: true, Landlock: 7, Seccomp: true})
	assert.Equal(t, []string{"namespaces: operation not permitted"}, l.Missing)
	assert.Zero(t, l.DiskQuota)

	var w warnings
	r := &REPL{cfg: config{isolation: IsolationBestEffort}, log: slog.New(&w)}
	require.NoError(t, r.checkLayers(l))
	require.NoError(t, r.checkLayers(l), "a restart that misses the same layers")
	require.Len(t, w.records, 1, "one warning per REPL")
	assert.Contains(t, w.records[0].Message, "isolation incomplete")

	r.cfg.isolation = IsolationStrict
	assert.True(t, errors.Is(r.checkLayers(l), ErrIsolation))
}
