package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/go-rlm/rlm/examples/internal/cli"
	"github.com/go-rlm/rlm/interp"
	"github.com/go-rlm/rlm/interp/export"
	"github.com/go-rlm/rlm/interp/trace"
)

// layerStat summarises, for one layer, the residual stream after it at the
// last prompt token of every sub-call: the state from which the worker
// chose its answer.
type layerStat struct {
	layer    int
	subCalls int
	norm     float64 // mean L2 norm
	cosine   float64 // mean cosine similarity over pairs of sub-calls; NaN with fewer than two
}

// layerStats reads the trace's hook_resid_post rows at the last prompt
// token and summarises them per layer.
func layerStats(ctx context.Context, path string) ([]layerStat, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	byLayer := map[int][][]float64{}
	err = export.ReadParquet(ctx, f, func(r *export.Row) error {
		if r.Hook != interp.ActName("resid_post", r.Layer) || trace.Field(r, "position_kind") != trace.KindPromptLast {
			return nil
		}
		v := make([]float64, len(r.Values))
		for i, x := range r.Values {
			v[i] = float64(x)
		}
		byLayer[r.Layer] = append(byLayer[r.Layer], v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var stats []layerStat
	for layer, vs := range byLayer {
		s := layerStat{layer: layer, subCalls: len(vs), cosine: math.NaN()}
		for _, v := range vs {
			s.norm += floats.Norm(v, 2) / float64(len(vs))
		}
		var sum float64
		pairs := 0
		for i := range vs {
			for j := i + 1; j < len(vs); j++ {
				sum += floats.Dot(vs[i], vs[j]) / (floats.Norm(vs[i], 2) * floats.Norm(vs[j], 2))
				pairs++
			}
		}
		if pairs > 0 {
			s.cosine = sum / float64(pairs)
		}
		stats = append(stats, s)
	}
	slices.SortFunc(stats, func(a, b layerStat) int { return a.layer - b.layer })
	return stats, nil
}

// writeLayers writes layers.csv and layers.png.
func writeLayers(stats []layerStat, dir string) error {
	records := [][]string{{"layer", "sub_calls", "mean_norm", "mean_cosine_between_sub_calls"}}
	for _, s := range stats {
		records = append(records, []string{strconv.Itoa(s.layer), strconv.Itoa(s.subCalls),
			strconv.FormatFloat(s.norm, 'g', 6, 64), strconv.FormatFloat(s.cosine, 'g', 6, 64)})
	}
	if err := cli.WriteCSV(filepath.Join(dir, "layers.csv"), records); err != nil {
		return err
	}
	if len(stats) == 0 {
		return nil
	}

	p := plot.New()
	p.Title.Text = "Last prompt token of each sub-call: residual stream after each layer"
	p.X.Label.Text = "layer"
	p.Y.Label.Text = "mean cosine similarity between sub-calls"
	pts := make(plotter.XYs, 0, len(stats))
	for _, s := range stats {
		if !math.IsNaN(s.cosine) {
			pts = append(pts, plotter.XY{X: float64(s.layer), Y: s.cosine})
		}
	}
	if len(pts) > 0 {
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		p.Add(line, points, plotter.NewGrid())
	}
	if err := p.Save(8*vg.Inch, 5*vg.Inch, filepath.Join(dir, "layers.png")); err != nil {
		return fmt.Errorf("layers.png: %w", err)
	}
	return nil
}
