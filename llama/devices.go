package llama

// #include <stdlib.h>
// #include "bridge.h"
import "C"

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"
)

// DeviceKind is the kind of a compute device.
type DeviceKind int

// Device kinds, as ggml names them.
const (
	DeviceCPU DeviceKind = iota
	DeviceGPU
	DeviceIntegratedGPU
	DeviceAccelerator
)

func (k DeviceKind) String() string {
	switch k {
	case DeviceCPU:
		return "CPU"
	case DeviceGPU:
		return "GPU"
	case DeviceIntegratedGPU:
		return "iGPU"
	case DeviceAccelerator:
		return "accelerator"
	}
	return "DeviceKind(" + strconv.Itoa(int(k)) + ")"
}

// Device is a compute device ggml can place a model on.
type Device struct {
	Name        string // e.g. "CPU", "CUDA0"; what WithDevices takes
	Description string // e.g. "NVIDIA H100 80GB HBM3"
	Kind        DeviceKind
	FreeMemory  uint64 // bytes
	TotalMemory uint64 // bytes
}

// Devices lists the devices of every loaded backend. The CPU is always
// there; GPUs appear once their backend is loaded (see [LoadBackend]).
func Devices() []Device {
	initBackend()
	n := int(C.ggml_backend_dev_count())
	devs := make([]Device, 0, n)
	for i := 0; i < n; i++ {
		d := C.ggml_backend_dev_get(C.size_t(i))
		var free, total C.size_t
		C.ggml_backend_dev_memory(d, &free, &total)
		devs = append(devs, Device{
			Name:        C.GoString(C.ggml_backend_dev_name(d)),
			Description: C.GoString(C.ggml_backend_dev_description(d)),
			Kind:        deviceKind(C.ggml_backend_dev_type(d)),
			FreeMemory:  uint64(free),
			TotalMemory: uint64(total),
		})
	}
	return devs
}

// haveGPU reports whether a GPU (discrete or integrated) is available.
func haveGPU() bool {
	for _, d := range Devices() {
		if d.Kind == DeviceGPU || d.Kind == DeviceIntegratedGPU {
			return true
		}
	}
	return false
}

func deviceKind(t C.enum_ggml_backend_dev_type) DeviceKind {
	switch t {
	case C.GGML_BACKEND_DEVICE_TYPE_GPU:
		return DeviceGPU
	case C.GGML_BACKEND_DEVICE_TYPE_IGPU:
		return DeviceIntegratedGPU
	case C.GGML_BACKEND_DEVICE_TYPE_ACCEL:
		return DeviceAccelerator
	}
	return DeviceCPU
}

// LoadBackend loads a ggml backend from a shared library, such as the CUDA
// backend that `make cuda` builds (third_party/lib/libggml-cuda.so). Its
// devices then appear in [Devices] and models can be placed on them.
func LoadBackend(path string) error {
	initBackend()
	if _, err := os.Stat(path); err != nil {
		return &Error{Op: "load backend", Err: err}
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var reg C.ggml_backend_reg_t
	log := logged(func() { reg = C.ggml_backend_load(cpath) })
	if reg == nil || log.err() != nil {
		return &Error{Op: "load backend " + path, Err: log.err(), Detail: log.detail()}
	}
	return nil
}

// deviceList turns device names into the NULL-terminated C array that
// llama_model_params.devices takes. The caller frees it.
func deviceList(names []string) (*C.ggml_backend_dev_t, error) {
	devs := make([]C.ggml_backend_dev_t, 0, len(names)+1)
	for _, name := range names {
		cname := C.CString(name)
		d := C.ggml_backend_dev_by_name(cname)
		C.free(unsafe.Pointer(cname))
		if d == nil {
			var have []string
			for _, dev := range Devices() {
				have = append(have, dev.Name)
			}
			return nil, fmt.Errorf("no device %q (have %s)", name, strings.Join(have, ", "))
		}
		devs = append(devs, d)
	}
	devs = append(devs, nil)
	size := C.size_t(len(devs)) * C.size_t(unsafe.Sizeof(devs[0]))
	arr := (*C.ggml_backend_dev_t)(C.malloc(size))
	copy(unsafe.Slice(arr, len(devs)), devs)
	return arr, nil
}
