package llama_test

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/llama/llamatest"
)

// residentBytes reads the process's resident set size from /proc.
func residentBytes(t *testing.T) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skip("no /proc/self/statm on this system")
	}
	fields := strings.Fields(string(data))
	pages, err := strconv.ParseInt(fields[1], 10, 64)
	require.NoError(t, err)
	return pages * int64(os.Getpagesize())
}

// TestLoadCloseCycles loads and closes a 17 MB model (with a context, a
// sampler and a short generation each time) 200 times. Resident memory may
// grow by at most 64 MiB: leaking the model, its context or its compute
// buffers once per cycle would grow it by gigabytes. What does grow is
// allocator fragmentation around a small leak inside the pinned ggml (the
// zero-size buffers llama.cpp makes to probe each weight's buffer type are
// never deleted: ~100 bytes per tensor per load), about 150 KiB per cycle
// on glibc with Go's many threads; see the README.
func TestLoadCloseCycles(t *testing.T) {
	const (
		cycles = 200
		warmup = 20
		bound  = 64 << 20
	)
	cfg := llamatest.DefaultConfig()
	cfg.Embd, cfg.FF = 256, 1024
	path := llamatest.Model(t, cfg)
	ctx := context.Background()
	cycle := func() {
		m, err := llama.LoadModel(ctx, path)
		require.NoError(t, err)
		c, err := m.NewContext(llama.WithContextSize(256), llama.WithThreads(1, 1))
		require.NoError(t, err)
		_, err = c.Generate(ctx, llama.Text("Hi"), llama.WithMaxTokens(2))
		require.NoError(t, err)
		require.NoError(t, c.Close())
		require.NoError(t, m.Close())
	}
	for range warmup {
		cycle()
	}
	runtime.GC()
	before := residentBytes(t)
	for range cycles {
		cycle()
	}
	runtime.GC()
	after := residentBytes(t)
	t.Logf("resident memory: %d KiB before, %d KiB after %d cycles", before>>10, after>>10, cycles)
	assert.Less(t, after-before, int64(bound))
}
