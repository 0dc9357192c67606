package export_test

import (
	"bytes"
	"context"
	"fmt"
	"log"

	"github.com/go-rlm/rlm/interp/export"
)

// Write activations with a column of one's own and read them back.
func ExampleNewParquetWriter() {
	var file bytes.Buffer // an *os.File in practice
	w, err := export.NewParquetWriter(&file, 4, export.WithColumns(export.Column{Name: "prompt", Type: export.String}))
	if err != nil {
		log.Fatal(err)
	}
	for pos, tok := range "Hi!" {
		err := w.Write(export.Row{
			Run: "demo", Hook: "blocks.0.hook_resid_post", Layer: 0, Position: pos,
			TokenID: int(tok), TokenText: string(tok),
			Values: []float32{float32(pos), 0.5, -1, 2},
			Extra:  []any{"Hi!"},
		})
		if err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	err = export.ReadParquet(context.Background(), bytes.NewReader(file.Bytes()), func(r *export.Row) error {
		fmt.Println(r.Hook, r.Position, r.TokenText, r.Values, r.Extra[0])
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// blocks.0.hook_resid_post 0 H [0 0.5 -1 2] Hi!
	// blocks.0.hook_resid_post 1 i [1 0.5 -1 2] Hi!
	// blocks.0.hook_resid_post 2 ! [2 0.5 -1 2] Hi!
}
