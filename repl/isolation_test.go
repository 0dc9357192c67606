package repl_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/repl"
)

func TestStrictIsolationLayers(t *testing.T) {
	t.Parallel()
	r := start(t, repl.WithIsolation(repl.IsolationStrict))
	l := r.Layers()
	t.Log(l)
	assert.Empty(t, l.Missing)
	res := run(t, r, "import os\nprint(os.getpid())")
	assert.Equal(t, "2\n", res.Stdout)
	require.True(t, l.Seccomp)
}
