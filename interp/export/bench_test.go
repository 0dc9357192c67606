package export_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/go-rlm/rlm/interp/export"
)

// BenchmarkWrite measures how fast activations of a 7B model's width
// (Qwen2.5-7B: 3584) stream into each format, in bytes of activation values
// per second, into memory that keeps nothing (no disk).
func BenchmarkWrite(b *testing.B) {
	const width = 3584
	// Distinct rows, more than a compressor's window holds, so that
	// compression sees data as varied as real activations.
	pool := make([][]float32, 1024)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range pool {
		pool[i] = make([]float32, width)
		for j := range pool[i] {
			pool[i][j] = float32(rng.NormFloat64())
		}
	}
	extra := []export.Column{{Name: "query", Type: export.String}, {Name: "depth", Type: export.Int64}}
	row := export.Row{Run: "run-1", Hook: "blocks.12.hook_resid_post", Layer: 12, TokenText: " roll",
		Extra: []any{"Count all dice rolls in this section", int64(1)}}
	type writer interface {
		Write(export.Row) error
		Close() error
	}
	formats := []struct {
		name string
		open func(w *countingWriter, c export.Compression) (writer, error)
		comp []export.Compression
	}{
		{"parquet", func(w *countingWriter, c export.Compression) (writer, error) {
			return export.NewParquetWriter(w, width, export.WithColumns(extra...), export.WithCompression(c))
		}, []export.Compression{export.CompressionNone, export.CompressionSnappy, export.CompressionZstd}},
		{"ipc", func(w *countingWriter, c export.Compression) (writer, error) {
			return export.NewIPCWriter(w, width, export.WithColumns(extra...), export.WithCompression(c))
		}, []export.Compression{export.CompressionNone, export.CompressionZstd}},
	}
	for _, f := range formats {
		for _, c := range f.comp {
			b.Run(fmt.Sprintf("%s/%v", f.name, c), func(b *testing.B) {
				out := &countingWriter{}
				w, err := f.open(out, c)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(4 * width)
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					row.Position, row.Values = i, pool[i%len(pool)]
					if err := w.Write(row); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(out.n)/float64(b.N*4*width), "file/values")
			})
		}
	}
}
