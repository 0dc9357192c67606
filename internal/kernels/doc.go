// Package kernels builds ggml's CPU backend as shared libraries, one per
// instruction-set level, from the llama.cpp sources pinned in go.mod, and
// says where programs find them.
//
// cgo compiles the CPU kernels linked into package llama with whatever
// CGO_CFLAGS the build has, by default without AVX2, FMA or F16C. The
// libraries this package builds do not depend on how a program was built:
// package llama loads the best one this CPU can run when it starts (see
// llama.CPUKernels), as llama.cpp's and ollama's own builds do. Nothing here
// uses cgo, so `go run github.com/go-rlm/rlm/cmd/rlm-kernels` builds them
// without compiling llama.cpp first.
package kernels
