// Command mkmodel writes a small Qwen2 GGUF model with random weights, for
// trying the library without downloading a model:
//
//	go run ./examples/mkmodel -layers 4 -embd 64 -heads 4 -kv-heads 2 -ff 128 -vocab byte -type f32 -seed 1 -o model.gguf
//
// The vocabulary (-vocab byte, the only one for now) has one token per byte
// plus the ChatML control tokens; see package llamatest. Types f32 and f16
// are written directly; q8_0, q4_0 and q4_k_m are quantized from an f32
// model by llama.cpp. On failure mkmodel prints one line to stderr and exits
// with status 1.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-rlm/rlm/examples/internal/cli"
	"github.com/go-rlm/rlm/llama/gguf"
	"github.com/go-rlm/rlm/llama/llamatest"
)

func main() { cli.Main("mkmodel", run) }

// run parses args, writes the model and reports it on stdout.
func run(_ context.Context, args []string, stdout io.Writer) error {
	def := llamatest.DefaultConfig()
	fs := flag.NewFlagSet("mkmodel", flag.ContinueOnError)
	layers := fs.Int("layers", def.Layers, "transformer blocks")
	embd := fs.Int("embd", def.Embd, "embedding width (n_embd)")
	heads := fs.Int("heads", def.Heads, "attention heads")
	kvHeads := fs.Int("kv-heads", def.KVHeads, "key/value heads (grouped-query attention)")
	ff := fs.Int("ff", def.FF, "feed-forward width (n_ff)")
	vocab := fs.String("vocab", "byte", "vocabulary: byte (256 byte tokens and 3 ChatML control tokens)")
	typ := fs.String("type", "f32", "weight type: f32, f16, q8_0, q4_0 or q4_k_m")
	seed := fs.Int64("seed", def.Seed, "seed of the random weights")
	out := fs.String("o", "model.gguf", "output file")
	if err := cli.Parse(fs, "[flags]", args); err != nil {
		return err
	}
	for name, v := range map[string]int{"layers": *layers, "embd": *embd, "heads": *heads, "kv-heads": *kvHeads, "ff": *ff} {
		if v <= 0 {
			return fmt.Errorf("-%s %d: must be positive", name, v)
		}
	}
	if *vocab != "byte" {
		return fmt.Errorf("-vocab %s: only byte is supported", *vocab)
	}
	cfg := llamatest.Config{Layers: *layers, Embd: *embd, Heads: *heads, KVHeads: *kvHeads, FF: *ff, Seed: *seed}
	if err := cfg.Validate(); err != nil {
		return err
	}

	switch t := strings.ToLower(*typ); t {
	case "f32", "f16":
		if t == "f16" {
			cfg.Type = gguf.TypeF16
		}
		if err := llamatest.WriteModel(*out, cfg); err != nil {
			return err
		}
	case "q8_0", "q4_0", "q4_k_m":
		// llama.cpp quantizes from a full-precision model written beside the output.
		tmp := filepath.Join(filepath.Dir(*out), "."+filepath.Base(*out)+".f32")
		defer os.Remove(tmp)
		if err := llamatest.WriteModel(tmp, cfg); err != nil {
			return err
		}
		if err := quantize(tmp, *out, t); err != nil {
			return err
		}
	default:
		return fmt.Errorf("-type %s: want f32, f16, q8_0, q4_0 or q4_k_m", *typ)
	}

	info, err := os.Stat(*out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d layers, n_embd %d, %d/%d heads, n_ff %d, %s, seed %d, %d bytes\n",
		*out, cfg.Layers, cfg.Embd, cfg.Heads, cfg.KVHeads, cfg.FF, strings.ToLower(*typ), cfg.Seed, info.Size())
	return nil
}
