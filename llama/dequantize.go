package llama

// #include "bridge.h"
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/go-rlm/rlm/llama/gguf"
)

// Dequantize converts n values stored as type t (F16, Q8_0, Q4_K, ...) to
// float32 with ggml's own conversion routine: the reference that pure-Go
// readers of GGUF tensors are checked against.
func Dequantize(t gguf.Type, data []byte, n int) ([]float32, error) {
	if !t.Valid() || n < 0 || int64(n)%t.BlockSize() != 0 {
		return nil, &Error{Op: "dequantize", Err: fmt.Errorf("type %v, %d values: not a whole number of blocks", t, n)}
	}
	need := int64(n) / t.BlockSize() * t.BlockBytes()
	if int64(len(data)) < need {
		return nil, &Error{Op: "dequantize", Err: fmt.Errorf("%d %v values need %d bytes, have %d", n, t, need, len(data))}
	}
	out := make([]float32, n)
	if n == 0 {
		return out, nil
	}
	initBackend()
	traits := C.ggml_get_type_traits(C.enum_ggml_type(t))
	if t == gguf.TypeF32 {
		copy(out, unsafe.Slice((*float32)(unsafe.Pointer(&data[0])), n))
		return out, nil
	}
	if traits == nil || traits.to_float == nil {
		return nil, &Error{Op: "dequantize", Err: fmt.Errorf("ggml has no conversion from %v", t)}
	}
	C.rlm_to_float(traits, unsafe.Pointer(&data[0]), (*C.float)(unsafe.Pointer(&out[0])), C.int64_t(n))
	return out, nil
}
