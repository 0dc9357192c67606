package main

import (
	"fmt"
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Colours of the two series.
var (
	rlmColor      = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	baselineColor = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
)

// writePlot draws the accuracy of each context-length bin of s, in tokens
// (the unit of OOLONG's paper), as bars, the RLM's beside the baseline's
// when there is one, as a PNG image.
func writePlot(w io.Writer, s Summary) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("OOLONG-real %s/%s: accuracy by context length", s.Dataset, s.Split)
	p.X.Label.Text = "context window length (tokens, the " + s.ContextTokenizer + "'s tokenizer; examples in brackets)"
	p.Y.Label.Text = "accuracy (mean score, %)"
	p.Y.Min, p.Y.Max = 0, 100
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	p.Add(grid)

	labels := make([]string, len(s.ByContextTokens))
	rlmValues := make(plotter.Values, len(s.ByContextTokens))
	baselineValues := make(plotter.Values, len(s.ByContextTokens))
	hasBaseline := false
	for i, g := range s.ByContextTokens {
		labels[i] = fmt.Sprintf("%s (%d)", g.Name, g.Examples)
		rlmValues[i] = 100 * g.Accuracy
		if g.BaselineAccuracy != nil {
			baselineValues[i] = 100 * *g.BaselineAccuracy
			hasBaseline = true
		}
	}
	if len(labels) == 0 {
		// A shard that holds no window: an empty chart says so.
		p.X.Label.Text = "no examples"
		return writePNG(w, p)
	}
	width := vg.Points(24)
	rlmBars, err := plotter.NewBarChart(rlmValues, width)
	if err != nil {
		return err
	}
	rlmBars.Color = rlmColor
	rlmBars.LineStyle.Width = 0
	p.Add(rlmBars)
	p.Legend.Add("RLM", rlmBars)
	if hasBaseline {
		baselineBars, err := plotter.NewBarChart(baselineValues, width)
		if err != nil {
			return err
		}
		baselineBars.Color = baselineColor
		baselineBars.LineStyle.Width = 0
		rlmBars.Offset, baselineBars.Offset = -width/2, width/2
		p.Add(baselineBars)
		p.Legend.Add("baseline: worker alone", baselineBars)
	}
	p.Legend.Top = true
	p.NominalX(labels...)
	return writePNG(w, p)
}

// writePNG renders p as the report's PNG image.
func writePNG(w io.Writer, p *plot.Plot) error {
	wt, err := p.WriterTo(7*vg.Inch, 4.5*vg.Inch, "png")
	if err != nil {
		return err
	}
	_, err = wt.WriteTo(w)
	return err
}
