package llama

// #include <stdint.h>
import "C"

import "runtime/cgo"

// handleValue resolves a cgo.Handle that C handed back to a callback.
func handleValue[T any](h C.uintptr_t) T { return cgo.Handle(h).Value().(T) }
