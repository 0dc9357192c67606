package llama

// #include <stdlib.h>
// #include "bridge.h"
import "C"

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"unsafe"
)

// QuantizeOption configures [Quantize].
type QuantizeOption func(*quantizeConfig)

type quantizeConfig struct {
	threads int
	pure    bool
}

// WithQuantizeThreads sets the threads used. Default: every CPU.
func WithQuantizeThreads(n int) QuantizeOption {
	return func(c *quantizeConfig) { c.threads = n }
}

// WithPureQuantization quantizes every tensor to the target type, without
// llama.cpp's mix of higher-precision types for sensitive tensors.
func WithPureQuantization() QuantizeOption {
	return func(c *quantizeConfig) { c.pure = true }
}

// Quantize writes the model at in to out converted to the given file type
// (FileTypeF16, FileTypeQ8_0, FileTypeQ4_0, FileTypeQ4_K_M, ...), as
// llama-quantize does. The input is validated first; out appears only when
// complete (written to a temporary file and renamed). It runs to the end once
// started: llama.cpp offers no way to interrupt it.
func Quantize(in, out string, ft FileType, opts ...QuantizeOption) error {
	if err := validateModelFile(in); err != nil {
		return &Error{Op: "quantize", Err: err}
	}
	initBackend()
	cfg := quantizeConfig{threads: runtime.NumCPU()}
	for _, o := range opts {
		o(&cfg)
	}
	params := C.llama_model_quantize_default_params()
	params.nthread = C.int32_t(cfg.threads)
	params.ftype = C.enum_llama_ftype(ft)
	params.pure = C.bool(cfg.pure)
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp*")
	if err != nil {
		return &Error{Op: "quantize", Err: err}
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpName) // after a successful rename this finds nothing

	cin, cout := C.CString(in), C.CString(tmpName)
	defer C.free(unsafe.Pointer(cin))
	defer C.free(unsafe.Pointer(cout))
	var rc C.uint32_t
	log := logged(func() { rc = C.llama_model_quantize(cin, cout, &params) })
	if rc != 0 || log.err() != nil {
		return &Error{Op: fmt.Sprintf("quantize %s to %s", in, ft), Code: int(rc), Err: log.err(), Detail: log.detail()}
	}
	if err := os.Rename(tmpName, out); err != nil {
		return &Error{Op: "quantize", Err: err}
	}
	return nil
}
