package llama

// #include "bridge.h"
import "C"

import (
	"errors"
	"fmt"
	"sort"
	"unsafe"
)

// SetControlVector adds vectors[l] to the residual stream after layer l
// (the node l_out-l) for every layer l in the map, through llama.cpp's control
// vectors: part of the graph itself, so it costs nothing beyond the additions,
// unlike a Modify hook. Layer 0 cannot be steered this way (llama.cpp has no
// control vector there); use a Modify hook on l_out-0. Each vector has the
// model's embedding size. It replaces any vector set before. Contexts made
// WithEmbeddings cannot take control vectors (see rebuildGraph).
func (c *Context) SetControlVector(vectors map[int][]float32) error {
	if err := c.lock("set control vector"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	if c.embeddings {
		return &Error{Op: "set control vector", Err: errors.New("not supported on a context made WithEmbeddings: use a Modify hook")}
	}
	if len(vectors) == 0 {
		c.clearControlVector()
		return nil
	}
	nEmbd := int(C.llama_model_n_embd(c.model.c))
	nLayer := int(C.llama_model_n_layer(c.model.c))
	layers := make([]int, 0, len(vectors))
	for l, v := range vectors {
		if l < 1 || l >= nLayer {
			return &Error{Op: "set control vector", Err: fmt.Errorf("layer %d outside [1, %d): llama.cpp steers layers 1 and up", l, nLayer)}
		}
		if len(v) != nEmbd {
			return &Error{Op: "set control vector", Err: fmt.Errorf("layer %d: vector of %d values, the model's embedding size is %d", l, len(v), nEmbd)}
		}
		layers = append(layers, l)
	}
	sort.Ints(layers)
	// llama.cpp takes one buffer of n_embd values per layer, from layer 1.
	data := make([]float32, nEmbd*(nLayer-1))
	for _, l := range layers {
		copy(data[(l-1)*nEmbd:], vectors[l])
	}
	var rc C.int32_t
	log := logged(func() {
		rc = C.llama_apply_adapter_cvec(c.c, (*C.float)(unsafe.Pointer(&data[0])), C.size_t(len(data)),
			C.int32_t(nEmbd), C.int32_t(layers[0]), C.int32_t(layers[len(layers)-1]))
	})
	if rc != 0 || log.err() != nil {
		return &Error{Op: "set control vector", Code: int(rc), Err: log.err(), Detail: log.detail()}
	}
	c.rebuildGraph = true
	return nil
}

// ClearControlVector removes the control vector.
func (c *Context) ClearControlVector() error {
	if err := c.lock("clear control vector"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	c.clearControlVector()
	return nil
}

func (c *Context) clearControlVector() {
	C.llama_apply_adapter_cvec(c.c, nil, 0, 0, 0, 0)
	c.rebuildGraph = true
}
