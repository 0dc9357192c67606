package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func record(id string, index int) Record {
	return Record{Index: index, ID: id, Question: "How many rolls?", Gold: "3", Answer: "3", Score: 1, Stop: "final"}
}

func TestJournalAppendAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), journalName)
	j, err := openJournal(path)
	require.NoError(t, err)
	assert.Empty(t, j.Records())
	require.NoError(t, j.Append(record("a", 0)))
	require.NoError(t, j.Append(record("b", 1)))
	assert.ErrorContains(t, j.Append(record("a", 2)), "already recorded")
	require.NoError(t, j.Close())
	require.NoError(t, j.Close(), "Close is idempotent")
	assert.ErrorIs(t, j.Append(record("c", 2)), os.ErrClosed)

	j, err = openJournal(path)
	require.NoError(t, err)
	defer j.Close()
	assert.Equal(t, []Record{record("a", 0), record("b", 1)}, j.Records())
	assert.True(t, j.Done("b"))
	assert.False(t, j.Done("c"))
	assert.Zero(t, j.torn)
}

// TestJournalCutsATornLine checks that the trace of a process killed while
// appending, a last line without its newline, is cut off, on disk too, and
// that the next append starts a fresh line.
func TestJournalCutsATornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), journalName)
	j, err := openJournal(path)
	require.NoError(t, err)
	require.NoError(t, j.Append(record("a", 0)))
	require.NoError(t, j.Close())
	whole, err := os.ReadFile(path)
	require.NoError(t, err)
	torn := `{"index":1,"id":"b","quest`
	require.NoError(t, os.WriteFile(path, append(whole, torn...), 0o644))

	j, err = openJournal(path)
	require.NoError(t, err)
	assert.Equal(t, len(torn), j.torn)
	assert.Equal(t, []Record{record("a", 0)}, j.Records())
	assert.False(t, j.Done("b"), "the torn example runs again")
	require.NoError(t, j.Append(record("b", 1)))
	require.NoError(t, j.Close())
	records, err := readJournal(path)
	require.NoError(t, err)
	assert.Equal(t, []Record{record("a", 0), record("b", 1)}, records)
}

func TestJournalRefusesDamage(t *testing.T) {
	for _, tt := range []struct{ name, content, want string }{
		{"a malformed line", "{\"id\":\"a\"}\nnot json\n{\"id\":\"b\"}\n", "line 2"},
		{"an example twice", "{\"id\":\"a\"}\n{\"id\":\"a\"}\n", "example a recorded twice"},
		{"a record without id", "{\"index\":3}\n", "without an id"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), journalName)
			require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o644))
			_, err := openJournal(path)
			assert.ErrorContains(t, err, tt.want)
			_, err = readJournal(path)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func TestJournalIsExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), journalName)
	j, err := openJournal(path)
	require.NoError(t, err)
	_, err = openJournal(path)
	assert.ErrorIs(t, err, errBusy)
	require.NoError(t, j.Close())
	j, err = openJournal(path)
	require.NoError(t, err, "the lock goes with Close")
	require.NoError(t, j.Close())
	var none *Journal
	assert.NoError(t, none.Close())
}
