package crd3test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm/oolong"
)

// TestExcerpt checks the files the repository carries: the episodes of
// Excerpt, each equal to the full set's copy when that is here, within the
// 1 MB the project allows itself.
func TestExcerpt(t *testing.T) {
	dir, err := excerptDir()
	require.NoError(t, err)
	c, err := oolong.LoadCampaign(dir, 1)
	require.NoError(t, err)
	assert.Equal(t, Excerpt, c.Episodes())
	assert.Equal(t, oolong.Player{Name: "Matt", Character: "DM"}, c.Players[0])
	var total int64
	entries, err := os.ReadDir(filepath.Join(dir, "campaign1"))
	require.NoError(t, err)
	for _, e := range entries {
		info, err := e.Info()
		require.NoError(t, err)
		total += info.Size()
	}
	assert.LessOrEqual(t, total, int64(1<<20))
	text, err := c.Transcript(1)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(text, "Matt: Hello everyone."))

	if full, err := oolong.TranscriptDir(); err == nil {
		for _, ep := range Excerpt {
			name := filepath.Join("campaign1", "C1E00"+string(rune('0'+ep))+".txt")
			want, err := os.ReadFile(filepath.Join(full, name))
			require.NoError(t, err)
			got, err := os.ReadFile(filepath.Join(dir, name))
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got), name)
		}
	}
}

func TestFallsBackToTheExcerpt(t *testing.T) {
	t.Setenv(oolong.EnvTranscriptDir, filepath.Join(t.TempDir(), "missing"))
	dir := Dir(t, 1, 4)
	excerpt, err := excerptDir()
	require.NoError(t, err)
	assert.Equal(t, excerpt, dir)
	assert.True(t, strings.HasPrefix(Episode(t, 2), "Matt:"))
}
