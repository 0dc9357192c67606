package repl_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/repl"
)

func TestDisplayShowsLastExpression(t *testing.T) {
	t.Parallel()
	r := start(t, repl.WithDisplay(true), repl.WithOutputLimit(100), repl.WithPrelude("def helper():\n    return 1\nhelper()"))
	cases := []struct {
		name, code, stdout string
	}{
		{"bare expression", "x = 'abc'\nlen(x)", "3\n"},
		{"repr, not str", "x", "'abc'\n"},
		{"after print", "print('first')\n[x, 2]", "first\n['abc', 2]\n"},
		{"None is not shown", "None", ""},
		{"a call returning None", "print('only this')", "only this\n"},
		{"semicolon hides it", "len(x);", ""},
		{"assignment is not an expression", "y = 5", ""},
		{"only the last statement", "1\n2", "2\n"},
		{"compound last statement", "for i in range(2):\n    i", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, r, tc.code)
			assert.Equal(t, tc.stdout, res.Stdout)
		})
	}

	res := run(t, r, "'z' * 1000")
	assert.True(t, res.StdoutTruncated, "the repr is cut at the output limit")
	assert.True(t, strings.HasPrefix(res.Stdout, "'zzz"))

	r = start(t, repl.WithDisplay(true))
	res, err := r.Exec(testContext(t), "x = 1\n1/0")
	require.NoError(t, err)
	require.NotNil(t, res.Exception, "an expression that raises is an exception")
	assert.Contains(t, res.Exception.Traceback, "line 2")
	assert.Empty(t, res.Stdout)
}

func TestNoDisplayByDefault(t *testing.T) {
	t.Parallel()
	r := start(t)
	assert.Empty(t, run(t, r, "len('abc')").Stdout, "a script discards the value")
}
