package repl_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/repl"
)

// testTimeout bounds every test's use of a REPL, so that a bug hangs nothing.
const testTimeout = 2 * time.Minute

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// testLogger sends the REPL's log to the test's log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, nil))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// testOptions come first in every REPL of the tests: the test log, and the
// interpreter named by RLM_TEST_PYTHON (to run the tests against several).
func testOptions(t testing.TB) []repl.Option {
	opts := []repl.Option{repl.WithLogger(testLogger(t))}
	if python := os.Getenv("RLM_TEST_PYTHON"); python != "" {
		opts = append(opts, repl.WithPython(python))
	}
	return opts
}

// start starts a REPL that the test closes when it ends.
func start(t testing.TB, opts ...repl.Option) *repl.REPL {
	t.Helper()
	r, err := repl.Start(testContext(t), append(testOptions(t), opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, r.Close()) })
	return r
}

// run executes code and requires that it ran without a Go error or a Python
// exception.
func run(t testing.TB, r *repl.REPL, code string) repl.Result {
	t.Helper()
	res, err := r.Exec(testContext(t), code)
	require.NoError(t, err)
	if res.Exception != nil {
		require.Failf(t, "python exception", "%s: %s\n%s", res.Exception.Type, res.Exception.Message, res.Exception.Traceback)
	}
	return res
}

// countWord is the Go side of the seed's sub_call: occurrences of a word in a
// chunk, case-insensitive, as the text an LLM would answer.
func countWord(word string) repl.Func {
	return func(_ context.Context, args []any, _ map[string]any) (any, error) {
		chunk, _ := args[0].(string)
		return strconv.Itoa(strings.Count(strings.ToLower(chunk), word)), nil
	}
}

// crd3Dir returns the Critical Role transcripts beside the module, or skips.
// RLM_CRD3_DIR overrides the location.
func crd3Dir(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv("RLM_CRD3_DIR"); dir != "" {
		return dir
	}
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("module root not found")
		}
		dir = parent
	}
	data := filepath.Join(dir, "..", "shared", "data", "crd3")
	if _, err := os.Stat(data); err != nil {
		t.Skipf("CRD3 transcripts not found at %s (set RLM_CRD3_DIR): %v", data, err)
	}
	return data
}
