package interp

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Figure is a heat map with its color bar, as the plots of this package
// draw them ([PatchTable.Figure], [Lens.Figure], [AttentionFigure]). Both
// are gonum plots that can be restyled before rendering. A Figure is not
// safe for concurrent use.
type Figure struct {
	Plot     *plot.Plot // the heat map
	ColorBar *plot.Plot // the color scale, drawn at the right
}

// WritePNG renders the figure as a PNG image of the given size.
func (f *Figure) WritePNG(w io.Writer, width, height vg.Length) error {
	img := vgimg.New(width, height)
	dc := draw.New(img)
	bar := min(width/6, vg.Centimeter*2.5)
	main := draw.Crop(dc, 0, -bar, 0, 0)
	f.Plot.Draw(main)
	// The color bar spans the heat map's height.
	data := f.Plot.DataCanvas(main)
	f.ColorBar.Draw(draw.Crop(dc, width-bar, 0, data.Min.Y-dc.Min.Y, data.Max.Y-dc.Max.Y))
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(w); err != nil {
		return fmt.Errorf("interp: write png: %w", err)
	}
	return nil
}

// SavePNG writes the figure to a PNG file.
func (f *Figure) SavePNG(path string, width, height vg.Length) (err error) {
	file, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("interp: save png: %w", err)
	}
	defer func() {
		if cerr := file.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("interp: save png: %w", cerr)
		}
	}()
	return f.WritePNG(file, width, height)
}

// heatmap describes a heat map of a matrix: row labels on the y axis
// (row 0 at the top when topDown, else at the bottom), column labels on the
// x axis, and optional text in each cell.
type heatmap struct {
	m                     mat.Matrix
	rowLabels, colLabels  []string
	title, xLabel, yLabel string
	cmap                  palette.ColorMap
	diverging             bool // a color scale symmetric around 0
	lo, hi                float64
	fixedRange            bool // use lo, hi instead of the data's range
	topDown               bool
	cellText              [][]string // [row][col]
}

// matrixGrid shows a matrix to plotter.HeatMap, which puts grid row 0 at
// the bottom.
type matrixGrid struct {
	m       mat.Matrix
	topDown bool
}

func (g matrixGrid) Dims() (c, r int) { r, c = g.m.Dims(); return c, r }
func (g matrixGrid) Z(c, r int) float64 {
	return g.m.At(g.row(r), c)
}
func (g matrixGrid) X(c int) float64 { return float64(c) }
func (g matrixGrid) Y(r int) float64 { return float64(r) }
func (g matrixGrid) row(r int) int {
	if g.topDown {
		rows, _ := g.m.Dims()
		return rows - 1 - r
	}
	return r
}

func (h heatmap) figure() (*Figure, error) {
	rows, cols := h.m.Dims()
	if rows == 0 || cols == 0 {
		return nil, fmt.Errorf("interp: plot %q: empty matrix", h.title)
	}
	lo, hi := h.lo, h.hi
	if !h.fixedRange {
		lo, hi = math.Inf(1), math.Inf(-1)
		for i := 0; i < rows; i++ {
			for j := 0; j < cols; j++ {
				if v := h.m.At(i, j); !math.IsNaN(v) {
					lo, hi = min(lo, v), max(hi, v)
				}
			}
		}
		if h.diverging {
			a := max(math.Abs(lo), math.Abs(hi))
			lo, hi = -a, a
		}
	}
	if !(hi > lo) { // all equal, or no finite value
		if math.IsInf(lo, 0) || math.IsNaN(lo) {
			lo = 0
		}
		lo, hi = lo-1, lo+1
	}
	h.cmap.SetMin(lo)
	h.cmap.SetMax(hi)

	grid := matrixGrid{m: h.m, topDown: h.topDown}
	hm := plotter.NewHeatMap(grid, h.cmap.Palette(255))
	hm.Min, hm.Max = lo, hi
	hm.NaN = color.Gray{Y: 200}
	p := plot.New()
	p.Title.Text = h.title
	p.X.Label.Text = h.xLabel
	p.Y.Label.Text = h.yLabel
	p.Add(hm)
	p.X.Tick.Marker = labelTicks(h.colLabels, func(i int) int { return i })
	p.Y.Tick.Marker = labelTicks(h.rowLabels, grid.row)
	p.X.Tick.Label.Rotation = math.Pi / 3
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter

	if h.cellText != nil {
		var xys plotter.XYs
		var texts []string
		var dark []bool
		for r := 0; r < rows; r++ {
			for c := 0; c < cols; c++ {
				if s := h.cellText[grid.row(r)][c]; s != "" {
					xys = append(xys, plotter.XY{X: float64(c), Y: float64(r)})
					texts = append(texts, s)
					// Sequential maps run from dark to light.
					dark = append(dark, (grid.Z(c, r)-lo)/(hi-lo) < 0.55)
				}
			}
		}
		if len(xys) > 0 {
			labels, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: texts})
			if err != nil {
				return nil, fmt.Errorf("interp: plot %q: %w", h.title, err)
			}
			for i := range labels.TextStyle {
				labels.TextStyle[i].XAlign = draw.XCenter
				labels.TextStyle[i].YAlign = draw.YCenter
				labels.TextStyle[i].Font.Size = vg.Points(7)
				if dark[i] {
					labels.TextStyle[i].Color = color.White
				}
			}
			p.Add(labels)
		}
	}

	bar := plot.New()
	bar.Add(&plotter.ColorBar{ColorMap: h.cmap, Vertical: true})
	bar.HideX()
	bar.Y.Padding = 0
	return &Figure{Plot: p, ColorBar: bar}, nil
}

// labelTicks puts labels[row(i)] at i, thinned to about 40 labels.
func labelTicks(labels []string, index func(int) int) plot.Ticker {
	step := max(1, (len(labels)+39)/40)
	ticks := make(plot.ConstantTicks, 0, len(labels))
	for i := range labels {
		label := ""
		if index(i)%step == 0 {
			label = labels[index(i)]
		}
		ticks = append(ticks, plot.Tick{Value: float64(i), Label: label})
	}
	return ticks
}

// divergingMap is the color map of signed values (blue negative, red
// positive); sequentialMap of non-negative ones.
func divergingMap() palette.ColorMap  { return moreland.SmoothBlueRed() }
func sequentialMap() palette.ColorMap { return moreland.Kindlmann() }

// Figure draws the sweep as a heat map of the normalized metric: layers
// (or layer and head) up the y axis, positions along the x axis, 0 where a
// patch changes nothing and 1 where it restores the clean run.
func (t *PatchTable) Figure() (*Figure, error) {
	grid, rowLabels := t.grid()
	what := "restored"
	if t.Noising {
		what = "kept"
	}
	return heatmap{
		m: grid, rowLabels: rowLabels, colLabels: t.Labels,
		title:  fmt.Sprintf("Activation patching of %s (fraction of logit difference %s)", t.Kind, what),
		xLabel: "position", yLabel: "layer",
		cmap: divergingMap(), diverging: true,
	}.figure()
}

// grid returns the normalized values as a (layers[×heads]) × positions
// matrix, NaN where the sweep did not patch, with the row labels.
func (t *PatchTable) grid() (*mat.Dense, []string) {
	type rowKey struct{ layer, head int }
	var keys []rowKey
	rowOf := map[rowKey]int{}
	maxPos := len(t.Labels)
	for _, r := range t.Rows {
		k := rowKey{r.Layer, r.Head}
		if _, ok := rowOf[k]; !ok {
			rowOf[k] = len(keys)
			keys = append(keys, k)
		}
		maxPos = max(maxPos, r.Position+1)
	}
	m := mat.NewDense(max(1, len(keys)), max(1, maxPos), nil)
	for i := 0; i < len(keys); i++ {
		for j := 0; j < maxPos; j++ {
			m.Set(i, j, math.NaN())
		}
	}
	for _, r := range t.Rows {
		m.Set(rowOf[rowKey{r.Layer, r.Head}], r.Position, t.Normalized(r.Value))
	}
	labels := make([]string, len(keys))
	for i, k := range keys {
		labels[i] = fmt.Sprint(k.layer)
		if k.head >= 0 {
			labels[i] = fmt.Sprintf("L%d H%d", k.layer, k.head)
		}
	}
	return m, labels
}

// AttentionFigure draws one head's attention pattern (queries down the y
// axis, keys along the x axis, as [Cache.Pattern] gives it), labelled with
// the tokens.
func AttentionFigure(pattern mat.Matrix, labels []string, title string) (*Figure, error) {
	return heatmap{
		m: pattern, rowLabels: labels, colLabels: labels,
		title: title, xLabel: "key position", yLabel: "query position",
		cmap: sequentialMap(), lo: 0, hi: 1, fixedRange: true, topDown: true,
	}.figure()
}
