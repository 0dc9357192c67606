package hub_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm/hub"
	"github.com/go-rlm/rlm/rlm/hub/hubtest"
)

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestDownloadLaysOutTheCacheAsHuggingfaceHub(t *testing.T) {
	f := newFixture(t)
	c := f.client()

	// An LFS file: redirected to the CDN, stored under its SHA-256.
	got, err := c.Download(t.Context(), datasetRepo, hub.Dataset, "", "dnd/test.jsonl")
	require.NoError(t, err)
	repoDir := f.cachePath("datasets--oolongbench--oolong-real")
	assert.Equal(t, filepath.Join(repoDir, "snapshots", f.dataCommit, "dnd", "test.jsonl"), got)
	assert.Equal(t, f.data, readFile(t, got))
	target, err := os.Readlink(got)
	require.NoError(t, err)
	assert.Equal(t, "../../../blobs/"+sha256Hex(f.data), target, "a relative symlink to the blob")
	assert.Equal(t, f.dataCommit, string(readFile(t, filepath.Join(repoDir, "refs", "main"))))

	// A regular file: served by the Hub, stored under its git blob id.
	got, err = c.Download(t.Context(), modelRepo, hub.Model, "main", "README.md")
	require.NoError(t, err)
	assert.Equal(t, f.readme, readFile(t, got))
	target, err = os.Readlink(got)
	require.NoError(t, err)
	assert.Equal(t, "../../blobs/3b39ab935bbbafdb35443907ab9cfbc26aa9ebfc", target, "git hash-object of the README")

	// A revision with slashes is escaped in the URL and nested under refs/.
	got, err = c.Download(t.Context(), datasetRepo, hub.Dataset, "refs/convert/parquet", "dnd/test/0000.parquet")
	require.NoError(t, err)
	assert.Equal(t, f.parquet, readFile(t, got))
	assert.Equal(t, f.parquetCommit, string(readFile(t, filepath.Join(repoDir, "refs", "refs", "convert", "parquet"))))
	assert.Contains(t, f.requests("hub", "HEAD")[2].Path, "/resolve/refs%2Fconvert%2Fparquet/dnd/test/0000.parquet")

	entries, err := os.ReadDir(filepath.Join(repoDir, "blobs"))
	require.NoError(t, err)
	for _, e := range entries {
		assert.NotContains(t, e.Name(), ".incomplete", "no partial file left")
	}
}

func TestDownloadSendsTheTokenToTheHubOnly(t *testing.T) {
	f := newFixture(t)
	f.srv.SetPrivate(hub.Model, modelRepo, "hf_secret")

	_, err := f.client().Download(t.Context(), modelRepo, hub.Model, "", "tiny-F16.gguf")
	assert.ErrorIs(t, err, hub.ErrUnauthorized)
	assert.ErrorIs(t, err, hub.ErrNotFound, "the Hub hides private repositories as not found")
	var herr *hub.HTTPError
	require.ErrorAs(t, err, &herr)
	assert.Equal(t, "RepoNotFound", herr.Code)

	got, err := f.client(hub.WithToken("hf_secret")).Download(t.Context(), modelRepo, hub.Model, "", "tiny-F16.gguf")
	require.NoError(t, err)
	assert.Equal(t, f.model, readFile(t, got))
	for _, r := range f.srv.Requests() {
		if r.Server == "cdn" {
			assert.Empty(t, r.Authorization, "no token to the CDN")
		}
	}
	heads := f.requests("hub", "HEAD")
	assert.Equal(t, "Bearer hf_secret", heads[len(heads)-1].Authorization)
}

func TestDownloadUsesTheCache(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	first, err := c.Download(t.Context(), modelRepo, "", "", "tiny-F16.gguf")
	require.NoError(t, err)
	require.Len(t, f.requests("cdn", "GET"), 1)

	again, err := c.Download(t.Context(), modelRepo, hub.Model, "main", "tiny-F16.gguf")
	require.NoError(t, err)
	assert.Equal(t, first, again)
	assert.Len(t, f.requests("cdn", "GET"), 1, "a cached file is not downloaded again")
	assert.Len(t, f.requests("hub", "HEAD"), 2, "but the revision is checked")

	before := len(f.srv.Requests())
	byCommit, err := c.Download(t.Context(), modelRepo, hub.Model, f.modelCommit, "tiny-F16.gguf")
	require.NoError(t, err)
	assert.Equal(t, first, byCommit)
	assert.Len(t, f.srv.Requests(), before, "a file cached at a commit needs no request")
}

func TestDownloadResumesAnInterruptedTransfer(t *testing.T) {
	f := newFixture(t)
	f.srv.CutNext(f.big, 100_000)
	got, err := f.client().Download(t.Context(), modelRepo, hub.Model, "", "tiny-Q4_K_M.gguf")
	require.NoError(t, err)
	assert.Equal(t, f.big, readFile(t, got))
	gets := f.requests("cdn", "GET")
	require.Len(t, gets, 2)
	assert.Empty(t, gets[0].Range)
	assert.Equal(t, "bytes=100000-", gets[1].Range, "the second request resumes where the first stopped")
}

func TestDownloadResumesAcrossCalls(t *testing.T) {
	f := newFixture(t)
	f.srv.CutNext(f.big, 70_000)
	_, err := f.client(hub.WithRetries(0)).Download(t.Context(), modelRepo, hub.Model, "", "tiny-Q4_K_M.gguf")
	require.Error(t, err)
	var notCached *hub.NotCachedError
	assert.False(t, errors.As(err, &notCached), "a failed transfer is not an unreachable Hub: %v", err)
	partial := f.cachePath("models--Qwen--Tiny-GGUF", "blobs", sha256Hex(f.big)+".incomplete")
	info, err := os.Stat(partial)
	require.NoError(t, err, "the partial download is kept")
	assert.EqualValues(t, 70_000, info.Size())

	got, err := f.client().Download(t.Context(), modelRepo, hub.Model, "", "tiny-Q4_K_M.gguf")
	require.NoError(t, err)
	assert.Equal(t, f.big, readFile(t, got))
	gets := f.requests("cdn", "GET")
	assert.Equal(t, "bytes=70000-", gets[len(gets)-1].Range)
	_, err = os.Stat(partial)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestDownloadRejectsCorruptContent(t *testing.T) {
	f := newFixture(t)
	blobs := f.cachePath("models--Qwen--Tiny-GGUF", "blobs")
	partial := filepath.Join(blobs, sha256Hex(f.model)+".incomplete")
	require.NoError(t, os.MkdirAll(blobs, 0o755))
	corrupt := bytes.Clone(f.model)
	corrupt[10] ^= 0xff
	require.NoError(t, os.WriteFile(partial, corrupt, 0o644))

	_, err := f.client().Download(t.Context(), modelRepo, hub.Model, "", "tiny-F16.gguf")
	assert.ErrorIs(t, err, hub.ErrIntegrity)
	_, statErr := os.Stat(partial)
	assert.ErrorIs(t, statErr, os.ErrNotExist, "the corrupt partial file is deleted")

	got, err := f.client().Download(t.Context(), modelRepo, hub.Model, "", "tiny-F16.gguf")
	require.NoError(t, err)
	assert.Equal(t, f.model, readFile(t, got))
}

func TestDownloadFollowsARenamedRepository(t *testing.T) {
	f := newFixture(t)
	f.srv.Rename(hub.Model, modelRepo, "Qwen/Tiny-GGUF-v2")
	got, err := f.client().Download(t.Context(), modelRepo, hub.Model, "", "README.md")
	require.NoError(t, err)
	assert.Equal(t, f.readme, readFile(t, got))
	assert.Contains(t, got, "models--Qwen--Tiny-GGUF", "cached under the name asked for, as huggingface_hub does")
}

func TestDownloadNotFound(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	tests := []struct {
		name, repo, revision, file, code string
	}{
		{"file", modelRepo, "main", "missing.gguf", "EntryNotFound"},
		{"revision", modelRepo, "v9", "README.md", "RevisionNotFound"},
		{"repository", "Qwen/Missing", "main", "README.md", "RepoNotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Download(t.Context(), tt.repo, hub.Model, tt.revision, tt.file)
			assert.ErrorIs(t, err, hub.ErrNotFound)
			var herr *hub.HTTPError
			require.ErrorAs(t, err, &herr)
			assert.Equal(t, tt.code, herr.Code)
		})
	}
}

func TestDownloadRejectsBadArguments(t *testing.T) {
	c := newFixture(t).client()
	for _, args := range [][4]string{
		{"../etc", "model", "main", "x"},
		{"a/b/c", "model", "main", "x"},
		{"a--b/c", "model", "main", "x"},
		{modelRepo, "widget", "main", "x"},
		{modelRepo, "model", "../main", "x"},
		{modelRepo, "model", "main", "../x"},
		{modelRepo, "model", "main", "/x"},
		{modelRepo, "model", "main", "a//x"},
	} {
		_, err := c.Download(t.Context(), args[0], hub.RepoType(args[1]), args[2], args[3])
		assert.Error(t, err, "%v", args)
	}
}

func TestOfflineModeUsesTheCache(t *testing.T) {
	f := newFixture(t)
	online, err := f.client().Download(t.Context(), modelRepo, hub.Model, "", "tiny-F16.gguf")
	require.NoError(t, err)
	before := len(f.srv.Requests())

	offline := f.client(hub.WithOffline(true))
	got, err := offline.Download(t.Context(), modelRepo, hub.Model, "", "tiny-F16.gguf")
	require.NoError(t, err)
	assert.Equal(t, online, got)

	_, err = offline.Download(t.Context(), modelRepo, hub.Model, "", "tiny-BF16.gguf")
	assert.ErrorIs(t, err, hub.ErrOffline)
	var notCached *hub.NotCachedError
	require.ErrorAs(t, err, &notCached)
	assert.True(t, notCached.Offline)
	msg := err.Error()
	for _, want := range []string{"tiny-BF16.gguf", f.srv.URL + "/Qwen/Tiny-GGUF/resolve/main/tiny-BF16.gguf",
		"HF_HUB_OFFLINE", "HF_ENDPOINT", "local file path", f.cachePath("models--Qwen--Tiny-GGUF")} {
		assert.Contains(t, msg, want)
	}
	assert.Len(t, f.srv.Requests(), before, "offline mode sends nothing")
}

func TestOfflineModeFromTheEnvironment(t *testing.T) {
	f := newFixture(t)
	_, err := f.client().Download(t.Context(), datasetRepo, hub.Dataset, "", "dnd/test.jsonl")
	require.NoError(t, err)
	home := t.TempDir()
	require.NoError(t, os.Rename(f.cacheDir, filepath.Join(home, "hub")))
	t.Setenv("HF_HOME", home)
	t.Setenv("HF_HUB_CACHE", "")
	t.Setenv("HUGGINGFACE_HUB_CACHE", "")
	t.Setenv("HF_HUB_OFFLINE", "1")
	t.Setenv("HF_ENDPOINT", "http://127.0.0.1:1")

	c := hub.New()
	assert.True(t, c.Offline())
	assert.Equal(t, filepath.Join(home, "hub"), c.CacheDir())
	assert.Equal(t, "http://127.0.0.1:1", c.Endpoint())
	got, err := c.Download(t.Context(), datasetRepo, hub.Dataset, "", "dnd/test.jsonl")
	require.NoError(t, err)
	assert.Equal(t, f.data, readFile(t, got))
}

func TestUnreachableHub(t *testing.T) {
	f := newFixture(t)
	cached, err := f.client().Download(t.Context(), modelRepo, hub.Model, "", "tiny-F16.gguf")
	require.NoError(t, err)
	// Nothing listens on port 1: connections are refused at once.
	dead := f.client(hub.WithEndpoint("http://127.0.0.1:1"))

	got, err := dead.Download(t.Context(), modelRepo, hub.Model, "", "tiny-F16.gguf")
	require.NoError(t, err, "the cached copy serves")
	assert.Equal(t, cached, got)

	_, err = dead.Download(t.Context(), modelRepo, hub.Model, "", "tiny-Q4_K_M.gguf")
	assert.ErrorIs(t, err, hub.ErrUnreachable)
	var notCached *hub.NotCachedError
	require.ErrorAs(t, err, &notCached)
	assert.False(t, notCached.Offline)
	assert.Contains(t, err.Error(), "http://127.0.0.1:1/Qwen/Tiny-GGUF/resolve/main/tiny-Q4_K_M.gguf")
	assert.Contains(t, err.Error(), "connection refused")
	assert.Contains(t, err.Error(), "HF_ENDPOINT")
}

func TestTokenFromTheEnvironment(t *testing.T) {
	f := newFixture(t)
	f.srv.SetPrivate(hub.Model, modelRepo, "hf_from_file")
	home := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(home, "token"), []byte("hf_from_file\n"), 0o600))
	t.Setenv("HF_HOME", home)
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HUGGING_FACE_HUB_TOKEN", "")
	t.Setenv("HF_TOKEN_PATH", "")
	t.Setenv("HF_ENDPOINT", f.srv.URL)
	t.Setenv("HF_HUB_OFFLINE", "")
	t.Setenv("HF_HUB_CACHE", "")
	t.Setenv("HUGGINGFACE_HUB_CACHE", "")

	c := hub.New()
	got, err := c.Download(t.Context(), modelRepo, hub.Model, "", "README.md")
	require.NoError(t, err, "the token file of huggingface-cli login is read")
	assert.Equal(t, filepath.Join(home, "hub", "models--Qwen--Tiny-GGUF", "snapshots", f.modelCommit, "README.md"), got)

	t.Setenv("HF_TOKEN", "hf_wrong")
	_, err = hub.New().Download(t.Context(), modelRepo, hub.Model, "", "tiny-F16.gguf")
	assert.ErrorIs(t, err, hub.ErrUnauthorized, "HF_TOKEN wins over the file")
}

func TestConcurrentDownloadsOfOneFile(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	var wg sync.WaitGroup
	paths := make([]string, 6)
	errs := make([]error, 6)
	for i := range paths {
		wg.Go(func() { paths[i], errs[i] = c.Download(t.Context(), modelRepo, hub.Model, "", "tiny-Q4_K_M.gguf") })
	}
	wg.Wait()
	for i := range paths {
		require.NoError(t, errs[i])
		assert.Equal(t, paths[0], paths[i])
	}
	assert.Equal(t, f.big, readFile(t, paths[0]))
	assert.Len(t, f.requests("cdn", "GET"), 1, "the lock lets one download through")
}

func TestDownloadReportsProgress(t *testing.T) {
	f := newFixture(t)
	var out bytes.Buffer
	_, err := f.client(hub.WithProgress(&out)).Download(t.Context(), modelRepo, hub.Model, "", "tiny-Q4_K_M.gguf")
	require.NoError(t, err)
	last := strings.Split(strings.TrimSpace(out.String()), "\n")
	assert.Contains(t, last[len(last)-1], "tiny-Q4_K_M.gguf  100%")
	assert.Contains(t, last[len(last)-1], "300.1 KiB/300.1 KiB")
}

func TestExistingCacheIsReused(t *testing.T) {
	// Lay out a file as huggingface_hub would have, by hand.
	f := newFixture(t)
	repoDir := f.cachePath("models--Qwen--Tiny-GGUF")
	blob := filepath.Join(repoDir, "blobs", sha256Hex(f.model))
	pointer := filepath.Join(repoDir, "snapshots", f.modelCommit, "tiny-F16.gguf")
	require.NoError(t, os.MkdirAll(filepath.Dir(blob), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Dir(pointer), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(repoDir, "refs"), 0o755))
	require.NoError(t, os.WriteFile(blob, f.model, 0o644))
	require.NoError(t, os.Symlink("../../blobs/"+sha256Hex(f.model), pointer))
	require.NoError(t, os.WriteFile(filepath.Join(repoDir, "refs", "main"), []byte(f.modelCommit), 0o644))

	got, err := f.client().Download(t.Context(), modelRepo, hub.Model, "", "tiny-F16.gguf")
	require.NoError(t, err)
	assert.Equal(t, pointer, got)
	assert.Empty(t, f.requests("cdn", "GET"))
}

func TestHubtestCommitsAreStable(t *testing.T) {
	a, b := hubtest.NewServer(), hubtest.NewServer()
	defer a.Close()
	defer b.Close()
	file := hubtest.File{Path: "x", Content: []byte("y")}
	assert.Equal(t, a.Commit(hub.Model, "o/r", "main", file), b.Commit(hub.Model, "o/r", "main", file))
}
