package oolong_test

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm/hub"
	"github.com/go-rlm/rlm/rlm/hub/hubtest"
	"github.com/go-rlm/rlm/rlm/oolong"
)

// TestSplitFromTheHub downloads a split from a loopback Hub, as JSONL and
// as the converter's Parquet shards, and reads it back.
func TestSplitFromTheHub(t *testing.T) {
	rows := syntheticRows(5, 3, 20_000)
	var jsonl bytes.Buffer
	writeJSONL(t, &jsonl, rows)
	dir := t.TempDir()
	shard0, shard1 := filepath.Join(dir, "0000.parquet"), filepath.Join(dir, "0001.parquet")
	writeParquetFile(t, shard0, rows[:8], 4)
	writeParquetFile(t, shard1, rows[8:], 4)

	srv := hubtest.NewServer()
	defer srv.Close()
	srv.Commit(hub.Dataset, oolong.Repo, "main",
		hubtest.File{Path: oolong.JSONLPath(oolong.DnD, oolong.Test), Content: jsonl.Bytes(), LFS: true})
	srv.Commit(hub.Dataset, oolong.Repo, oolong.ParquetRevision,
		hubtest.File{Path: "dnd/test/0000.parquet", Content: readBytes(t, shard0), LFS: true},
		hubtest.File{Path: "dnd/test/0001.parquet", Content: readBytes(t, shard1), LFS: true},
		hubtest.File{Path: "dnd/validation/0000.parquet", Content: []byte("other split"), LFS: true})
	c := hub.New(hub.WithEndpoint(srv.URL), hub.WithCacheDir(t.TempDir()), hub.WithOffline(false),
		hub.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))

	path, err := c.Download(t.Context(), oolong.Repo, hub.Dataset, "", oolong.JSONLPath(oolong.DnD, oolong.Test))
	require.NoError(t, err)
	r, err := oolong.Open(path)
	require.NoError(t, err)
	assert.Equal(t, rows, readAll(t, r))
	require.NoError(t, r.Close())

	listing, err := c.ListFiles(t.Context(), oolong.Repo, hub.Dataset, oolong.ParquetRevision)
	require.NoError(t, err)
	var paths []string
	for _, f := range listing {
		paths = append(paths, f.Path)
	}
	var shards []string
	for _, p := range oolong.ParquetShards(paths, oolong.DnD, oolong.Test) {
		local, err := c.Download(t.Context(), oolong.Repo, hub.Dataset, oolong.ParquetRevision, p)
		require.NoError(t, err)
		shards = append(shards, local)
	}
	require.Len(t, shards, 2)
	r, err = oolong.OpenAll(shards)
	require.NoError(t, err)
	defer r.Close()
	assert.Equal(t, rows, readAll(t, r))
}

func readBytes(t *testing.T, name string) []byte {
	data, err := os.ReadFile(name)
	require.NoError(t, err)
	return data
}
