package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm"
)

// TestSubCallCacheCutsATornEntry checks that an answer whose line a kill
// cut short is never served, that the file is cut back to its complete
// lines, and that answers kept before it and after it are served.
func TestSubCallCacheCutsATornEntry(t *testing.T) {
	dir := t.TempDir()
	cache, closeFile, err := openSubCallCache(dir)
	require.NoError(t, err)
	cache.Put("whole", "12")
	require.NoError(t, cache.Err())
	require.NoError(t, closeFile())
	f, err := os.OpenFile(filepath.Join(dir, subCallsName), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"key":"torn","answer":"1`) // "19" was being written
	require.NoError(t, err)
	require.NoError(t, f.Close())

	cache, closeFile, err = openSubCallCache(dir)
	require.NoError(t, err)
	answer, ok := cache.Get("whole")
	assert.True(t, ok)
	assert.Equal(t, "12", answer)
	_, ok = cache.Get("torn")
	assert.False(t, ok, "no answer from a torn entry")
	cache.Put("torn", "19")
	require.NoError(t, closeFile())

	data, err := os.ReadFile(filepath.Join(dir, subCallsName))
	require.NoError(t, err)
	assert.Equal(t, "{\"key\":\"whole\",\"answer\":\"12\"}\n{\"key\":\"torn\",\"answer\":\"19\"}\n", string(data))
	cache, closeFile, err = openSubCallCache(dir)
	require.NoError(t, err)
	defer closeFile()
	answer, _ = cache.Get("torn")
	assert.Equal(t, "19", answer)
	assert.Equal(t, 2, cache.Len())
	var _ rlm.SubCallCache = cache
}
