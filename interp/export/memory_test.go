package export_test

import (
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/interp/export"
)

// countingWriter counts the bytes written to it and keeps none.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// heapAfterGC is the live heap after a collection.
func heapAfterGC() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestParquetMemoryStaysFlat streams 64 MiB of activations through a
// writer with 1 MiB row groups and checks that the live heap never grows by
// more than a few row groups (16 MiB): the writer holds one row group, not
// the file.
func TestParquetMemoryStaysFlat(t *testing.T) {
	const (
		width     = 1024
		groupRows = 256 // 1 MiB of values
		rows      = 64 * groupRows
	)
	values := make([]float32, width)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range values {
		values[i] = float32(rng.NormFloat64())
	}
	base := heapAfterGC()
	out := &countingWriter{}
	pw, err := export.NewParquetWriter(out, width, export.WithRowGroupRows(groupRows))
	require.NoError(t, err)
	var peak uint64
	for i := range rows {
		require.NoError(t, pw.Write(export.Row{Run: "run", Hook: "blocks.0.hook_resid_post", Position: i, Values: values}))
		if i%groupRows == groupRows-2 { // a row group's worth held, about to go out
			peak = max(peak, heapAfterGC())
		}
	}
	require.NoError(t, pw.Close())
	assert.Greater(t, out.n, int64(rows*width*4), "every value was written")
	grown := int64(peak) - int64(base)
	t.Logf("wrote %d MiB; the live heap grew by at most %.1f MiB", out.n>>20, float64(grown)/(1<<20))
	assert.Less(t, grown, int64(16<<20), "the heap grew by %d bytes writing %d", grown, out.n)
}
