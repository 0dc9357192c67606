package cmdtest

import (
	"encoding/csv"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// AssertFailed checks that a run of the command name, as [Run] reported
// it, failed the way every example command fails: exit status 1, nothing
// on standard output, and one line on standard error, "NAME: reason",
// whose reason contains want.
func AssertFailed(t testing.TB, name, want string, code int, stdout, stderr string) {
	t.Helper()
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout)
	assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
	assert.True(t, strings.HasPrefix(stderr, name+": "), stderr)
	assert.Contains(t, stderr, want)
}

// ReadCSV reads a CSV file a command wrote, every record.
func ReadCSV(t testing.TB, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	return records
}
