package interp

import (
	"fmt"
	"io"

	"github.com/go-rlm/rlm/interp/export"
)

// WriteParquet writes the cache as a Parquet table in package export's
// schema: one row per captured hook point, prompt and position, with the
// hook's TransformerLens name, its layer, the prompt's index as the
// sequence, the token (id and text) and the activation values (float32).
// run fills the run column. Hook points of different widths share the file
// (values is then a list of any length).
func (c *Cache) WriteParquet(w io.Writer, run string, opts ...export.Option) error {
	pw, err := export.NewParquetWriter(w, c.exportWidth(), opts...)
	if err != nil {
		return fmt.Errorf("interp: cache: write parquet: %w", err)
	}
	return c.export(pw, run, "write parquet")
}

// WriteArrow writes the cache as an Arrow IPC file (Feather v2) with the
// same rows as WriteParquet.
func (c *Cache) WriteArrow(w io.Writer, run string, opts ...export.Option) error {
	iw, err := export.NewIPCWriter(w, c.exportWidth(), opts...)
	if err != nil {
		return fmt.Errorf("interp: cache: write arrow: %w", err)
	}
	return c.export(iw, run, "write arrow")
}

// rowWriter is what export's writers have in common.
type rowWriter interface {
	Write(export.Row) error
	Close() error
}

func (c *Cache) export(w rowWriter, run, op string) error {
	var values []float32
	for _, name := range c.names {
		p := c.points[name]
		for seq, m := range c.data[p.key()] {
			rows, cols := m.Dims()
			for pos := 0; pos < rows; pos++ {
				values = values[:0]
				for _, v := range m.RawRowView(pos)[:cols] {
					values = append(values, float32(v))
				}
				err := w.Write(export.Row{
					Run: run, Hook: name, Layer: p.Layer, Sequence: int64(seq), Position: pos,
					TokenID: int(c.tokens[seq][pos]), TokenText: c.pieceAt(seq, pos), Values: values,
				})
				if err != nil {
					w.Close()
					return fmt.Errorf("interp: cache: %s: %w", op, err)
				}
			}
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("interp: cache: %s: %w", op, err)
	}
	return nil
}

// exportWidth is the one width every captured matrix has, or 0 when they
// differ (export then stores values as a list of any length).
func (c *Cache) exportWidth() int {
	width := -1
	for _, name := range c.names {
		for _, m := range c.data[c.points[name].key()] {
			_, cols := m.Dims()
			if width >= 0 && cols != width {
				return 0
			}
			width = cols
		}
	}
	return max(width, 0)
}

func (c *Cache) pieceAt(seq, pos int) string {
	if seq < len(c.pieces) && pos < len(c.pieces[seq]) {
		return c.pieces[seq][pos]
	}
	return ""
}
