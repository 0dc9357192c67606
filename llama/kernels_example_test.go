package llama_test

import (
	"fmt"

	"github.com/go-rlm/rlm/llama"
)

// A program can say which CPU kernels it computes with, and whether they
// are the fast ones, before it loads a model.
func ExampleCPUKernels() {
	k := llama.CPUKernels()
	if len(k.Missing) > 0 {
		fmt.Println("slow kernels; build fast ones once with: go run github.com/go-rlm/rlm/cmd/rlm-kernels")
	}
	fmt.Println("CPU kernels:", k)
}
