package repl_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/repl"
)

func TestVariablesPersistAcrossCells(t *testing.T) {
	t.Parallel()
	r := start(t)
	res := run(t, r, "import collections\ncounts = collections.Counter('abracadabra')\nn = 41")
	assert.Equal(t, []string{"collections", "counts", "n"}, res.Changed)

	res = run(t, r, "n += 1\nprint(n, counts.most_common(1))")
	assert.Equal(t, "42 [('a', 5)]\n", res.Stdout)
	assert.Equal(t, []string{"n"}, res.Changed, "only the rebound name changed")
	assert.False(t, res.Restarted)

	res = run(t, r, "def shout(s):\n    return s.upper() + '!'\nprint(shout(f'{n:03d}'))")
	assert.Equal(t, "042!\n", res.Stdout)
	assert.Equal(t, []string{"shout"}, res.Changed)
	assert.Positive(t, res.Duration)
}

func TestExceptionIsAResultWithTraceback(t *testing.T) {
	t.Parallel()
	r := start(t)
	cases := []struct {
		name, code, typ, message string
		traceback                []string
	}{
		{"runtime error", "x = [1, 2]\ndef f():\n    return x[5]\nprint('before')\nf()",
			"IndexError", "list index out of range",
			[]string{"Traceback (most recent call last):", "line 5, in <module>", "line 3, in f", "return x[5]", "IndexError: list index out of range"}},
		{"syntax error", "def broken(:\n    pass", "SyntaxError", "invalid syntax",
			[]string{"def broken(:", "SyntaxError: invalid syntax"}},
		{"raised by the cell", "raise ValueError('bad value')", "ValueError", "bad value",
			[]string{"raise ValueError('bad value')", "ValueError: bad value"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := r.Exec(testContext(t), tc.code)
			require.NoError(t, err, "a Python exception is not a Go error")
			require.NotNil(t, res.Exception)
			assert.Equal(t, tc.typ, res.Exception.Type)
			assert.Contains(t, res.Exception.Message, tc.message)
			for _, want := range tc.traceback {
				assert.Contains(t, res.Exception.Traceback, want)
			}
			assert.NotContains(t, res.Exception.Traceback, "repl bootstrap", "the REPL's own frames are hidden")
		})
	}
	// Output printed before the exception is kept.
	res, err := r.Exec(testContext(t), "print('before')\n1/0")
	require.NoError(t, err)
	assert.Equal(t, "before\n", res.Stdout)
	assert.Equal(t, "ZeroDivisionError", res.Exception.Type)
}

func TestSetAndGetConvertValues(t *testing.T) {
	t.Parallel()
	r := start(t)
	ctx := testContext(t)
	cases := []struct {
		name      string
		in        any
		pyType    string
		pyRepr    string
		roundTrip any
	}{
		{"string", "héllo\n\"quoted\"\x01", "str", `'héllo\n"quoted"\x01'`, "héllo\n\"quoted\"\x01"},
		{"int", 42, "int", "42", int64(42)},
		{"negative int64", int64(math.MinInt64), "int", "-9223372036854775808", int64(math.MinInt64)},
		{"float stays float", 2.0, "float", "2.0", 2.0},
		{"small float", 1.5e-300, "float", "1.5e-300", 1.5e-300},
		{"bool", true, "bool", "True", true},
		{"nil", nil, "NoneType", "None", nil},
		{"list", []any{"a", 1, 2.5, nil}, "list", "['a', 1, 2.5, None]", []any{"a", int64(1), 2.5, nil}},
		{"typed slice", []int{3, 4}, "list", "[3, 4]", []any{int64(3), int64(4)}},
		{"map", map[string]any{"b": []string{"x"}, "a": map[string]int{"n": 1}}, "dict",
			"{'a': {'n': 1}, 'b': ['x']}", map[string]any{"a": map[string]any{"n": int64(1)}, "b": []any{"x"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, r.Set(testContext(t), "v", tc.in))
			res := run(t, r, "print(type(v).__name__)\nprint(repr(v))")
			assert.Equal(t, tc.pyType+"\n"+tc.pyRepr+"\n", res.Stdout)
			got, err := r.Get(ctx, "v")
			require.NoError(t, err)
			assert.Equal(t, tc.roundTrip, got)
		})
	}

	// Python values without a JSON form come back as described at Func.
	run(t, r, `big = 2**70
nan = float('nan')
words = {'a', 'b'} and ('x', 'y')
obj = object
keys = {1: 'one', None: 2, (1, 2): 3}
names = {'only'}
raw = b'\x00b'
class Loud:
    def __str__(self):
        while True: pass
    __repr__ = __str__
loud = [Loud(), 1]`)
	for name, want := range map[string]any{
		"big":   "1180591620717411303424",
		"nan":   "nan",
		"words": []any{"x", "y"},
		"obj":   "<class 'object'>",
		"keys":  map[string]any{"1": "one", "null": int64(2), "<tuple object>": int64(3)},
		"names": []any{"only"},
		"raw":   `b'\x00b'`,
		// Get never runs the cell's code: an object comes back as a
		// placeholder, not as its str().
		"loud": []any{"<Loud object>", int64(1)},
	} {
		got, err := r.Get(ctx, name)
		require.NoError(t, err, name)
		assert.Equal(t, want, got, name)
	}

	_, err := r.Get(ctx, "never_defined")
	assert.ErrorIs(t, err, repl.ErrUndefined)
}

func TestSetRejectsBadNamesAndValues(t *testing.T) {
	t.Parallel()
	r := start(t, repl.WithFunc("sub_call", countWord("x")))
	for _, name := range []string{"", "1abc", "with space", "class", "__builtins__", "sub_call", "naïve"} {
		assert.Error(t, r.Set(testContext(t), name, "v"), "name %q", name)
	}
	assert.Error(t, r.Set(testContext(t), "ch", make(chan int)), "a channel has no Python form")
	_, err := r.Get(testContext(t), "not-a-name")
	assert.Error(t, err)
}

// The RLM binds its document under two names; it crosses once and Python
// holds one copy.
func TestLargeDocumentBoundOnceUnderTwoNames(t *testing.T) {
	t.Parallel()
	doc := strings.Repeat("Matt: Roll for initiative.\nLaura: 17.\n", 130_000) // about 5 MB
	r := start(t)
	require.NoError(t, r.Set(testContext(t), "context", doc))
	require.NoError(t, r.Set(testContext(t), "prompt", doc))
	res := run(t, r, "print(len(context), context is prompt, context.count('Roll'))")
	assert.Equal(t, fmt.Sprintf("%d True %d\n", len(doc), strings.Count(doc, "Roll")), res.Stdout)

	// A cell that rebinds both gets them back, still shared, not re-sent.
	res = run(t, r, "context = 'x'\ndel prompt")
	assert.Equal(t, []string{"context", "prompt"}, res.Restored)
	res = run(t, r, "print(len(context), context is prompt)")
	assert.Equal(t, fmt.Sprintf("%d True\n", len(doc)), res.Stdout)

	got, err := r.Get(testContext(t), "prompt")
	require.NoError(t, err)
	assert.Equal(t, doc, got)
}

func TestProtectedNamesAreRestored(t *testing.T) {
	t.Parallel()
	r := start(t, repl.WithFunc("sub_call", countWord("roll")))
	require.NoError(t, r.Set(testContext(t), "context", "roll roll"))
	res := run(t, r, "context = 'nothing'\nsub_call = lambda *a: '0'\nmine = 1")
	assert.Equal(t, []string{"context", "sub_call"}, res.Restored)
	assert.Equal(t, []string{"mine"}, res.Changed, "protected names are not reported as changed")
	res = run(t, r, "print(sub_call(context, 'q'), mine)")
	assert.Equal(t, "2 1\n", res.Stdout)
	assert.Empty(t, res.Restored)
}

// The rlm engine defines FINAL_VAR and SHOW_VARS in a prelude on top of host
// functions, and reads variables with Get.
func TestPreludeDefinesProtectedHelpers(t *testing.T) {
	t.Parallel()
	var final []any
	prelude := `
def FINAL_VAR(name):
    return _final(str(globals()[name]))

def SHOW_VARS():
    return sorted(k for k in globals() if not k.startswith('_'))
`
	r := start(t,
		repl.WithFunc("_final", func(_ context.Context, args []any, _ map[string]any) (any, error) {
			final = args
			return "accepted", nil
		}),
		repl.WithPrelude(prelude))
	res := run(t, r, "answer = 6 * 7\nprint(FINAL_VAR('answer'))\nprint(SHOW_VARS())")
	assert.Equal(t, "accepted\n['FINAL_VAR', 'SHOW_VARS', 'answer']\n", res.Stdout)
	assert.Equal(t, []any{"42"}, final)
	assert.Equal(t, []string{"answer"}, res.Changed)

	res = run(t, r, "def FINAL_VAR(name): return 'hijacked'")
	assert.Equal(t, []string{"FINAL_VAR"}, res.Restored)
	res = run(t, r, "print(FINAL_VAR('answer'))")
	assert.Equal(t, "accepted\n", res.Stdout)

	v, err := r.Get(testContext(t), "answer")
	require.NoError(t, err)
	assert.Equal(t, int64(42), v)
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	_, err := repl.Start(ctx, repl.WithPython(filepath.Join(t.TempDir(), "no-such-python")))
	assert.ErrorIs(t, err, repl.ErrNoPython)

	notPython := filepath.Join(t.TempDir(), "python3")
	require.NoError(t, os.WriteFile(notPython, []byte("#!/bin/sh\necho 'Python 2.7.18' >&2\nexit 2\n"), 0o755))
	_, err = repl.Start(ctx, repl.WithPython(notPython))
	assert.ErrorIs(t, err, repl.ErrNoPython)

	// An interpreter that answers the version probe as Python 3.7 would.
	tooOld := filepath.Join(t.TempDir(), "python3")
	require.NoError(t, os.WriteFile(tooOld, []byte("#!/bin/sh\n"+
		`echo '{"executable": "/bin/false", "version": [3, 7, 9], "path": []}'`+"\n"), 0o755))
	_, err = repl.Start(ctx, repl.WithPython(tooOld))
	require.ErrorIs(t, err, repl.ErrNoPython)
	assert.Contains(t, err.Error(), "3.7.9")

	_, err = repl.Start(ctx, append(testOptions(t), repl.WithPrelude("raise RuntimeError('prelude fails')"))...)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "prelude fails")

	_, err = repl.Start(ctx, repl.WithFunc("not valid", countWord("x")))
	assert.Error(t, err)
	_, err = repl.Start(ctx, repl.WithOutputLimit(0))
	assert.Error(t, err)
}

func TestClosedREPL(t *testing.T) {
	t.Parallel()
	r, err := repl.Start(testContext(t), testOptions(t)...)
	require.NoError(t, err)
	scratch := r.Scratch()
	require.DirExists(t, scratch)
	require.NoError(t, r.Close())
	require.NoError(t, r.Close(), "Close is idempotent")
	assert.NoDirExists(t, scratch, "Close removes the scratch directory it created")

	_, err = r.Exec(testContext(t), "1")
	assert.ErrorIs(t, err, repl.ErrClosed)
	_, err = r.Get(testContext(t), "x")
	assert.ErrorIs(t, err, repl.ErrClosed)
	assert.ErrorIs(t, r.Set(testContext(t), "x", 1), repl.ErrClosed)

	var nilREPL *repl.REPL
	assert.NoError(t, nilREPL.Close())
	_, err = nilREPL.Exec(testContext(t), "1")
	assert.True(t, errors.Is(err, repl.ErrClosed))
}

func TestScratchDirectoryIsTheWorkingDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := start(t, repl.WithScratchDir(dir))
	run(t, r, "import os, tempfile\nwith open('notes.txt', 'w') as f:\n    f.write('kept')\nfd, tmp = tempfile.mkstemp()\nos.close(fd)")
	data, err := os.ReadFile(filepath.Join(dir, "notes.txt"))
	require.NoError(t, err)
	assert.Equal(t, "kept", string(data))
	res := run(t, r, "print(open('notes.txt').read(), os.path.dirname(tmp) == os.getcwd())")
	assert.Equal(t, "kept True\n", res.Stdout)
	require.NoError(t, r.Close())
	assert.DirExists(t, dir, "a scratch directory given by the caller is left in place")
}

func TestReadPathsOption(t *testing.T) {
	t.Parallel()
	shared := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(shared, "data.txt"), []byte("shared data"), 0o644))
	code := "print(open(" + pyString(filepath.Join(shared, "data.txt")) + ").read())"

	r := start(t)
	res, err := r.Exec(testContext(t), code)
	require.NoError(t, err)
	require.NotNil(t, res.Exception, "reading outside the scratch directory is refused by default")
	assert.Equal(t, "PermissionError", res.Exception.Type)

	r = start(t, repl.WithReadPaths(shared))
	res = run(t, r, code)
	assert.Equal(t, "shared data\n", res.Stdout)
	res, err = r.Exec(testContext(t), "open("+pyString(filepath.Join(shared, "new.txt"))+", 'w')")
	require.NoError(t, err)
	require.NotNil(t, res.Exception, "a readable path is still not writable")
	assert.Equal(t, "PermissionError", res.Exception.Type)
}

func TestOutputIsCapped(t *testing.T) {
	t.Parallel()
	r := start(t, repl.WithOutputLimit(100))
	res := run(t, r, "import sys\nprint('a' * 150)\nsys.stderr.write('é' * 99)\nsys.stdout.buffer.write(b'ignored')")
	assert.True(t, res.StdoutTruncated)
	assert.Equal(t, strings.Repeat("a", 100)+"\n[... 58 more characters cut: output is limited to 100 characters per cell]", res.Stdout)
	assert.False(t, res.StderrTruncated, "the cap counts characters, not bytes")
	assert.Equal(t, strings.Repeat("é", 99), res.Stderr)
}

func pyString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// A key a cell plants in its namespace, a str subclass with the hash of a
// name and an __eq__ that never returns, cannot stall Get while the cell
// runs, nor Set after it: the bridge never compares it.
func TestPlantedKeysCannotStallTheBridge(t *testing.T) {
	t.Parallel()
	r := start(t)
	done := make(chan repl.Result, 1)
	go func() {
		res, err := r.Exec(testContext(t), `import time
armed = [False]
class Evil(str):
    def __hash__(self):
        return hash('target')
    def __eq__(self, other):
        while armed[0]: pass
        return False
target = 'value'
globals()[Evil('planted')] = 1
armed[0] = True
time.sleep(1)`)
		assert.NoError(t, err)
		done <- res
	}()
	ctx, cancel := context.WithTimeout(testContext(t), 30*time.Second)
	defer cancel()
	require.True(t, eventually(func() bool {
		v, err := r.Get(ctx, "armed")
		return err == nil && fmt.Sprint(v) == "[true]"
	}))
	got, err := r.Get(ctx, "target")
	require.NoError(t, err)
	assert.Equal(t, "value", got)
	res := <-done
	require.Nil(t, res.Exception)
	require.NoError(t, r.Set(ctx, "target", "new"))
	res = run(t, r, "print(target, [k for k in globals() if type(k) is not str])")
	assert.Equal(t, "new []\n", res.Stdout)
}
