package llama

// Where cgo finds llama.cpp's headers. In a clone, `make headers` stages them
// in third_party/include. In a module that imports ours, this package sits
// in the module cache (GOMODCACHE/github.com/go-rlm/rlm@VERSION/llama) beside
// the pinned ollama module, whose headers the second pair of paths names, so
// no setup is needed; the version must be go.mod's (a test checks). The
// compiler ignores whichever directories do not exist.

// #cgo CPPFLAGS: -I${SRCDIR}/../third_party/include
// #cgo CPPFLAGS: -I${SRCDIR}/../../../ollama/ollama@v0.17.4/llama/llama.cpp/include
// #cgo CPPFLAGS: -I${SRCDIR}/../../../ollama/ollama@v0.17.4/ml/backend/ggml/ggml/include
// #cgo LDFLAGS: -lm
// #include <stdlib.h>
// #include "bridge.h"
import "C"

import (
	"sync"

	// Compiles llama.cpp, ggml-base and ggml's CPU backend from the pinned
	// ollama module and links them into this package (see third_party/README.md).
	_ "github.com/ollama/ollama/llama/llama.cpp/src"
)

// initBackend prepares llama.cpp once per process, before the first model
// or device is touched, starting with the choice of CPU kernels.
var initBackend = sync.OnceFunc(func() {
	selectKernels()
	C.llama_backend_init()
})

func init() {
	// Route logging before anything else can make llama.cpp or ggml print.
	C.llama_log_set(C.ggml_log_callback(C.rlm_log_callback), nil)
}

// SystemInfo reports the CPU features and backends llama.cpp was built with,
// as llama.cpp prints them ("AVX = 1 | AVX2 = 1 | ...").
func SystemInfo() string {
	initBackend()
	return C.GoString(C.llama_print_system_info())
}
