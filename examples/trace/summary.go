package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-rlm/rlm/interp/trace"
	"github.com/go-rlm/rlm/rlm"
)

// writeSummary writes what the run and the patches showed to summary.txt
// and to stdout.
func writeSummary(stdout io.Writer, cfg config, res rlm.Result, traceFile string, subCalls []trace.SubCall, layers []layerStat, patches []*trace.PatchResult) error {
	var b strings.Builder
	controller := "scripted (the seed's loop)"
	if cfg.controller != "" {
		controller = cfg.controller
	}
	fmt.Fprintf(&b, "controller:  %s\n", controller)
	if res.Final {
		fmt.Fprintf(&b, "answer:      %s\n", res.Answer)
	} else {
		fmt.Fprintf(&b, "answer:      none (stopped: %s)\n", res.Stop)
	}
	st, err := os.Stat(traceFile)
	if err != nil {
		return err
	}
	fmt.Fprintf(&b, "sub-calls:   %d traced, in %s (%d bytes)\n", len(subCalls), filepath.Base(traceFile), st.Size())
	for _, sc := range subCalls {
		fmt.Fprintf(&b, "  sub-call %d: depth %d, chunk at byte %d (%d bytes), %d prompt tokens, answer %q\n",
			sc.ID, sc.Depth, sc.Offset, sc.Length, len(sc.Prompt), sc.Answer)
	}
	if len(layers) > 0 {
		fmt.Fprintf(&b, "residual stream at the last prompt token, per layer (mean norm, mean cosine between sub-calls):\n")
		for _, s := range layers {
			cos := "n/a (one sub-call)"
			if !math.IsNaN(s.cosine) {
				cos = fmt.Sprintf("%.4f", s.cosine)
			}
			fmt.Fprintf(&b, "  layer %d: %.3f, %s\n", s.layer, s.norm, cos)
		}
	}
	if len(patches) > 0 {
		fmt.Fprintf(&b, "patches (residual stream after layer %d zeroed at the last prompt token):\n", cfg.layer)
		changed := 0
		for _, p := range patches {
			if p.Changed() {
				changed++
			}
			fmt.Fprintf(&b, "  sub-call %d: %q → %q, log p of %q: %.3f → %.3f\n",
				p.SubCall, p.Before.Text, p.After.Text, p.Before.Text, p.LogProbBefore, p.LogProbAfter)
		}
		fmt.Fprintf(&b, "  %d of %d answers changed\n", changed, len(patches))
	}
	if err := os.WriteFile(filepath.Join(cfg.out, "summary.txt"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}
