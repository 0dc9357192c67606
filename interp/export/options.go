package export

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Compression chooses how the files' data is compressed.
type Compression int

// The compressions. The mantissas of float32 activations look random to a
// compressor, so they shrink little; the string columns are
// dictionary-encoded in Parquet whatever the compression. Arrow IPC files
// support None and Zstd.
const (
	CompressionNone Compression = iota
	CompressionSnappy
	CompressionZstd
)

func (c Compression) String() string {
	switch c {
	case CompressionNone:
		return "none"
	case CompressionSnappy:
		return "snappy"
	case CompressionZstd:
		return "zstd"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// Option configures a writer.
type Option func(*config)

type config struct {
	rows        int
	compression Compression
	extra       []Column
	mem         memory.Allocator
}

// defaultGroupBytes is the size of the activation values a row group holds
// by default: large enough for readers to scan efficiently, small enough to
// keep a writer's memory flat.
const defaultGroupBytes = 32 << 20

// WithRowGroupRows sets how many rows the writer holds before writing them
// out as a Parquet row group (an IPC record batch); memory use is about
// that many rows. Default: as many rows as 32 MiB of values hold (8,192
// rows when the width varies).
func WithRowGroupRows(n int) Option { return func(c *config) { c.rows = n } }

// WithCompression sets the compression. Default CompressionNone: the fastest
// to write and read, and activations barely compress.
func WithCompression(comp Compression) Option { return func(c *config) { c.compression = comp } }

// WithColumns declares extra columns after the fixed ones; each [Row] then
// gives their values in Row.Extra, in this order. Default: none.
func WithColumns(cols ...Column) Option {
	return func(c *config) { c.extra = append(c.extra, cols...) }
}

// WithAllocator sets the Arrow memory allocator. Default: Go's heap
// (memory.DefaultAllocator).
func WithAllocator(mem memory.Allocator) Option { return func(c *config) { c.mem = mem } }

func newConfig(width int, opts []Option) (config, error) {
	c := config{mem: memory.DefaultAllocator}
	for _, o := range opts {
		o(&c)
	}
	if c.rows < 0 {
		return c, fmt.Errorf("row group of %d rows", c.rows)
	}
	if c.rows == 0 {
		c.rows = 8192
		if width > 0 {
			c.rows = max(1, defaultGroupBytes/(4*width))
		}
	}
	if c.compression < CompressionNone || c.compression > CompressionZstd {
		return c, fmt.Errorf("unknown compression %v", c.compression)
	}
	return c, nil
}
