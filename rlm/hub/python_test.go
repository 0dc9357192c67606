package hub_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm/hub"
)

// runHuggingfaceHub runs a Python script with huggingface_hub, or skips.
func runHuggingfaceHub(t *testing.T, script string, env ...string) string {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	if exec.Command(python, "-c", "import huggingface_hub").Run() != nil {
		t.Skip("the huggingface_hub Python package is not installed")
	}
	cmd := exec.CommandContext(t.Context(), python, "-c", script)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return strings.TrimSpace(string(out))
}

// TestPythonReadsOurCache checks that huggingface_hub finds, offline, what
// this package downloaded.
func TestPythonReadsOurCache(t *testing.T) {
	f := newFixture(t)
	ours, err := f.client().Download(t.Context(), modelRepo, hub.Model, "", "tiny-F16.gguf")
	require.NoError(t, err)
	got := runHuggingfaceHub(t, `
from huggingface_hub import hf_hub_download
print(hf_hub_download("Qwen/Tiny-GGUF", "tiny-F16.gguf"))
`, "HF_HUB_OFFLINE=1", "HF_HUB_CACHE="+f.cacheDir)
	assert.Equal(t, ours, got)
}

// TestWeReadPythonsCache checks that what huggingface_hub downloads from the
// loopback Hub is found here, offline.
func TestWeReadPythonsCache(t *testing.T) {
	f := newFixture(t)
	got := runHuggingfaceHub(t, `
from huggingface_hub import hf_hub_download
print(hf_hub_download("oolongbench/oolong-real", "dnd/test.jsonl", repo_type="dataset"))
`, "HF_ENDPOINT="+f.srv.URL, "HF_HUB_CACHE="+f.cacheDir, "HF_HUB_DISABLE_XET=1")
	ours, err := f.client(hub.WithOffline(true)).Download(t.Context(), datasetRepo, hub.Dataset, "", "dnd/test.jsonl")
	require.NoError(t, err)
	assert.Equal(t, got, ours)
	assert.Equal(t, f.data, readFile(t, ours))
}
