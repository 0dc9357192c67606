package cli

import "github.com/go-rlm/rlm/llama"

// PlaceModels chooses the devices of an RLM's two models as the reference
// setup has them: the controller on the first GPU and the worker on the
// second; both on the only GPU if there is one; both on "CPU" otherwise.
// Load a GPU backend library (llama.LoadBackend) first.
func PlaceModels() (controller, worker string) {
	var gpus []string
	for _, d := range llama.Devices() {
		if d.Kind == llama.DeviceGPU || d.Kind == llama.DeviceIntegratedGPU {
			gpus = append(gpus, d.Name)
		}
	}
	switch len(gpus) {
	case 0:
		return "CPU", "CPU"
	case 1:
		return gpus[0], gpus[0]
	}
	return gpus[0], gpus[1]
}

// OnDevice returns the load options that put a model on device, with
// gpuLayers of its layers offloaded when the device is not "CPU".
func OnDevice(device string, gpuLayers int) []llama.ModelOption {
	if device == "CPU" {
		return []llama.ModelOption{llama.WithGPULayers(0)}
	}
	return []llama.ModelOption{llama.WithDevices(device), llama.WithGPULayers(gpuLayers)}
}
