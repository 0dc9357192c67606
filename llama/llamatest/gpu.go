package llamatest

import (
	"os"
	"path/filepath"
	"testing"
)

// EnvCUDABackend names the environment variable that points tests at a
// ggml CUDA backend library.
const EnvCUDABackend = "RLM_CUDA_BACKEND"

// CUDABackend returns the path of the ggml CUDA backend library for tests
// that need a GPU: $RLM_CUDA_BACKEND, else third_party/lib/libggml-cuda.so
// under the module root (what `make cuda` builds). It skips the test when
// there is none. The caller loads it with llama.LoadBackend.
func CUDABackend(tb testing.TB) string {
	tb.Helper()
	lib := os.Getenv(EnvCUDABackend)
	if lib == "" {
		if root, ok := moduleRoot(); ok {
			lib = filepath.Join(root, "third_party", "lib", "libggml-cuda.so")
		}
	}
	if lib == "" {
		tb.Skipf("no GPU backend: run `make cuda` on a machine with CUDA, or set %s", EnvCUDABackend)
	}
	if _, err := os.Stat(lib); err != nil {
		tb.Skipf("no GPU backend at %s (run `make cuda` on a machine with CUDA, or set %s)", lib, EnvCUDABackend)
	}
	return lib
}

// moduleRoot walks up from the working directory to the directory holding
// go.mod.
func moduleRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}
