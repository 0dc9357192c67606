// Command mkmodel writes a Qwen2 GGUF model with random weights, for trying
// the library without downloading a model:
//
//	go run ./examples/mkmodel -layers 4 -embd 64 -heads 4 -kv-heads 2 -ff 128 -vocab byte -type f32 -seed 1 -o model.gguf
//
// -shape takes the real hyperparameters of a published model (qwen2.5-0.5b,
// qwen2.5-1.5b, qwen2.5-3b, qwen2.5-7b, qwen2.5-14b), which -layers and the
// other size flags override, and -tokenizer takes a Hugging Face
// tokenizer.json (with tokenizer_config.json and, if present, config.json
// beside it) and writes its vocabulary as llama.cpp's converter does:
//
//	go run ./examples/mkmodel -shape qwen2.5-0.5b -tokenizer tokenizer.json -type f16 -o qwen2.5-0.5b-f16.gguf
//	go run ./examples/mkmodel -shape qwen2.5-0.5b -layers 2 -o wide.gguf
//
// Without -tokenizer the vocabulary (-vocab byte) has one token per byte
// plus the ChatML control tokens, padded with unused entries to a shape's
// vocabulary size; see package llamatest. -chat-template replaces the
// tokenizer's template with a file's. Types f32, f16 and bf16 are written
// directly; q8_0, q4_0 and q4_k_m are quantized by llama.cpp from an f16
// model written beside the output. On failure mkmodel prints one line to
// stderr and exits with status 1.
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
	shape := fs.String("shape", "", "hyperparameters of a published model: "+shapeNames()+" (the size flags override them)")
	layers := fs.Int("layers", def.Layers, "transformer blocks")
	embd := fs.Int("embd", def.Embd, "embedding width (n_embd)")
	heads := fs.Int("heads", def.Heads, "attention heads")
	kvHeads := fs.Int("kv-heads", def.KVHeads, "key/value heads (grouped-query attention)")
	ff := fs.Int("ff", def.FF, "feed-forward width (n_ff)")
	vocab := fs.String("vocab", "byte", "vocabulary without -tokenizer: byte (256 byte tokens and 3 ChatML control tokens)")
	tokenizer := fs.String("tokenizer", "", "a Hugging Face tokenizer.json, with tokenizer_config.json (and config.json) beside it")
	chatTemplate := fs.String("chat-template", "", "a file whose Jinja chat template replaces the tokenizer's")
	typ := fs.String("type", "f32", "weight type: f32, f16, bf16, q8_0, q4_0 or q4_k_m")
	seed := fs.Int64("seed", def.Seed, "seed of the random weights")
	out := fs.String("o", "model.gguf", "output file")
	if err := cli.Parse(fs, "[flags]", args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, v := range map[string]int{"layers": *layers, "embd": *embd, "heads": *heads, "kv-heads": *kvHeads, "ff": *ff} {
		if v <= 0 {
			return fmt.Errorf("-%s %d: must be positive", name, v)
		}
	}
	if *vocab != "byte" {
		return fmt.Errorf("-vocab %s: only byte is supported (or give -tokenizer)", *vocab)
	}
	var v *llamatest.Vocab
	if *tokenizer != "" {
		var err error
		if v, err = llamatest.ReadHFVocab(*tokenizer); err != nil {
			return err
		}
	}
	if *chatTemplate != "" {
		tmpl, err := os.ReadFile(*chatTemplate)
		if err != nil {
			return err
		}
		if v == nil {
			v = llamatest.ByteVocab()
		}
		v.ChatTemplate = string(tmpl)
	}
	cfg := llamatest.Config{Layers: *layers, Embd: *embd, Heads: *heads, KVHeads: *kvHeads, FF: *ff, Seed: *seed, Vocab: v}
	if *shape != "" {
		s, err := llamatest.ShapeNamed(*shape)
		if err != nil {
			return fmt.Errorf("-shape %s: %w", *shape, err)
		}
		cfg = s.Config(v)
		cfg.Seed = *seed
		// Size flags given on the command line override the shape's.
		for _, size := range []struct {
			flag     string
			from, to *int
		}{{"layers", layers, &cfg.Layers}, {"embd", embd, &cfg.Embd}, {"heads", heads, &cfg.Heads}, {"kv-heads", kvHeads, &cfg.KVHeads}, {"ff", ff, &cfg.FF}} {
			if set[size.flag] {
				*size.to = *size.from
			}
		}
	}
	if err := cfg.Validate(); err != nil {
		return err
	}

	switch t := strings.ToLower(*typ); t {
	case "f32", "f16", "bf16":
		cfg.Type = map[string]gguf.Type{"f32": gguf.TypeF32, "f16": gguf.TypeF16, "bf16": gguf.TypeBF16}[t]
		if err := llamatest.WriteModel(*out, cfg); err != nil {
			return err
		}
	case "q8_0", "q4_0", "q4_k_m":
		// llama.cpp quantizes from a half-precision model written beside
		// the output (half the disk of f32 for the large shapes).
		cfg.Type = gguf.TypeF16
		tmp := filepath.Join(filepath.Dir(*out), "."+filepath.Base(*out)+".f16")
		defer os.Remove(tmp)
		if err := llamatest.WriteModel(tmp, cfg); err != nil {
			return err
		}
		if err := quantize(tmp, *out, t); err != nil {
			return err
		}
	default:
		return fmt.Errorf("-type %s: want f32, f16, bf16, q8_0, q4_0 or q4_k_m", *typ)
	}

	info, err := os.Stat(*out)
	if err != nil {
		return err
	}
	vocabSize := llamatest.VocabSize
	if cfg.Vocab != nil {
		vocabSize = cfg.Vocab.Len()
	}
	fmt.Fprintf(stdout, "wrote %s: %d layers, n_embd %d, %d/%d heads, n_ff %d, vocabulary %d, %s, seed %d, %d bytes\n",
		*out, cfg.Layers, cfg.Embd, cfg.Heads, cfg.KVHeads, cfg.FF, vocabSize, strings.ToLower(*typ), cfg.Seed, info.Size())
	return nil
}

// shapeNames lists the -shape presets.
func shapeNames() string {
	var names []string
	for _, s := range llamatest.Shapes() {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}
