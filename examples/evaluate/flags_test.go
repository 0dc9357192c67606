package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseBins(t *testing.T) {
	bins, err := parseBins("", defaultBins)
	require.NoError(t, err)
	assert.Equal(t, defaultBins, bins)
	bins, err = parseBins("2000, 4K,1.5M", nil)
	require.NoError(t, err)
	assert.Equal(t, []int{2000, 4000, 1_500_000}, bins)
	bins, err = parseBins("4.1K,0.3M", nil)
	require.NoError(t, err)
	assert.Equal(t, []int{4100, 300_000}, bins, "decimal fractions land on the integer meant")
	bins, err = parseBins("64ki,128Ki,1Mi", nil)
	require.NoError(t, err)
	assert.Equal(t, []int{65_536, 131_072, 1 << 20}, bins, "binary suffixes for tokens")
	for _, bad := range []string{"4K,4K", "5,3", "x", "0", "-3K", "1,,2", "NaN", "1e300"} {
		_, err := parseBins(bad, nil)
		assert.Error(t, err, bad)
	}
}

func TestSizes(t *testing.T) {
	for _, n := range []int{1, 999, 1000, 1500, 4096, 65_536, 131_072, 256_000, 1_500_000, 3_000_000, 3_000_001, 1 << 20, 1_024_000} {
		got, err := parseSize(formatSize(n))
		require.NoError(t, err)
		assert.Equal(t, n, got, "formatSize(%d) = %s", n, formatSize(n))
	}
	assert.Equal(t, "256K", formatSize(256_000))
	assert.Equal(t, "1.5M", formatSize(1_500_000))
	assert.Equal(t, "256K,512K,768K,1.5M,3M", formatBins(defaultBins))
	assert.Equal(t, "64Ki,128Ki,256Ki,512Ki,1Mi", formatBins(defaultTokenBins))
}

func TestDefaultChunkChars(t *testing.T) {
	// The chunk and the rest of a sub-call fit the worker's context at
	// 3 characters a token.
	for _, ctx := range []int{4096, 8192, 32768} {
		chunk := defaultChunkChars(ctx, 1024)
		assert.LessOrEqual(t, chunk/3+1024, ctx, "context %d", ctx)
		assert.Greater(t, chunk/3+1024+512, ctx, "context %d: the chunk uses the room", ctx)
	}
}
