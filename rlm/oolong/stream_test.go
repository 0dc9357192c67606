package oolong_test

import (
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/parquet"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm/oolong"
)

// heapPeaks runs f and returns the largest heap seen while it ran, above
// the heap before it: live is the heap the garbage collector found reachable
// (what f holds), total adds the garbage not yet collected (what the process
// holds, which GOGC and GOMEMLIMIT govern).
func heapPeaks(f func()) (live, total uint64) {
	samples := []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
	}
	var peakLive, peakTotal uint64
	read := func() {
		metrics.Read(samples)
		peakLive = max(peakLive, samples[0].Value.Uint64())
		peakTotal = max(peakTotal, samples[1].Value.Uint64())
	}
	runtime.GC()
	metrics.Read(samples)
	baseLive, baseTotal := samples[0].Value.Uint64(), samples[1].Value.Uint64()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		ticker := time.NewTicker(200 * time.Microsecond)
		defer ticker.Stop()
		for {
			read()
			select {
			case <-stop:
				return
			case <-ticker.C:
			}
		}
	})
	f()
	close(stop)
	wg.Wait()
	runtime.GC() // publishes the live heap of the last cycle
	read()
	return peakLive - min(baseLive, peakLive), peakTotal - min(baseTotal, peakTotal)
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// TestStreamingMemoryIsBounded streams splits many times larger than the
// bound the Reader documents and checks that the heap stays within it.
func TestStreamingMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and reads 300 MB")
	}
	rows := syntheticRows(12, 10, 1<<20) // 120 rows of 1 to 3.75 MiB: 285 MiB of text
	largest := len(rows[len(rows)-1].ContextWindowText)
	dir := t.TempDir()
	jsonl, pq := filepath.Join(dir, "test.jsonl"), filepath.Join(dir, "test.parquet")
	writeJSONLFile(t, jsonl, rows)
	// Plain encoding, which writers fall back to for megabyte values, and
	// one value per page: a reader holds a whole page, so pages of many
	// rows cost memory whatever the reader.
	writeParquetFile(t, pq, rows, 30, parquet.WithDictionaryDefault(false), parquet.WithBatchSize(1))
	rows = nil

	for _, name := range []string{jsonl, pq} {
		t.Run(filepath.Ext(name), func(t *testing.T) {
			var (
				stats oolong.Stats
				text  int
			)
			live, total := heapPeaks(func() {
				r, err := oolong.Open(name)
				require.NoError(t, err)
				defer r.Close()
				for e, err := range r.All(t.Context()) {
					require.NoError(t, err)
					text += len(e.ContextWindowText)
				}
				stats = r.Stats()
			})
			t.Logf("read %d MiB of file, %d MiB of text in %d rows: live heap peak %.1f MiB, heap peak %.1f MiB (largest row %.1f MiB)",
				stats.Bytes>>20, text>>20, stats.Rows, mib(live), mib(total), mib(uint64(largest)))
			assert.Equal(t, 120, stats.Rows)
			assert.Greater(t, text, 280<<20)
			// The bounds the Reader documents, with room to spare: a few
			// rows' worth for JSONL (line buffer, last window raw and
			// decoded), about ten for Parquet (batch, pages, buffers).
			bound := 8 * largest
			if filepath.Ext(name) == ".parquet" {
				bound = 16 * largest
			}
			assert.Less(t, live, uint64(bound), "live heap peak")
		})
	}
}
