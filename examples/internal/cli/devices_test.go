package cli_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/examples/internal/cli"
	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/llama/llamatest"
)

func TestPlaceModels(t *testing.T) {
	gpus := 0
	for _, d := range llama.Devices() {
		if d.Kind == llama.DeviceGPU || d.Kind == llama.DeviceIntegratedGPU {
			gpus++
		}
	}
	controller, worker := cli.PlaceModels()
	switch gpus {
	case 0:
		assert.Equal(t, []string{"CPU", "CPU"}, []string{controller, worker})
	case 1:
		assert.Equal(t, controller, worker, "both on the only GPU")
	default:
		assert.NotEqual(t, controller, worker, "one model per GPU")
	}

	assert.Equal(t, 2, len(cli.OnDevice("CUDA1", 99)), "a device and its layers")
	m, err := llama.LoadModel(context.Background(), llamatest.Model(t, llamatest.DefaultConfig()), cli.OnDevice("CPU", 99)...)
	require.NoError(t, err)
	require.NoError(t, m.Close())
}
