// Command rlm-kernels builds llama.cpp's CPU kernels for this machine, once:
// ggml's CPU backend as one shared library per x86-64 instruction-set level,
// from the sources pinned in go.mod. Programs that use package llama load
// the best one this CPU can run, however they were built (go run, go test,
// another module), and refuse to run on slow kernels otherwise.
//
//	go run github.com/go-rlm/rlm/cmd/rlm-kernels      # from any module that requires rlm
//	go run ./cmd/rlm-kernels                          # in a clone (make kernels does this)
//
// The libraries go to the user's cache directory (see -dir), shared by every
// clone and module; a second run does nothing unless -force is given. It
// needs CMake and a C/C++ compiler, and takes a few minutes on two cores.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-rlm/rlm/internal/kernels"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "rlm-kernels:", err)
		os.Exit(1)
	}
}

func run() error {
	def, _ := kernels.CacheDir()
	if v := os.Getenv(kernels.EnvDir); v != "" && v != kernels.Linked {
		def = v
	}
	dir := flag.String("dir", def, "where the libraries go (also $"+kernels.EnvDir+")")
	variants := flag.String("variants", "", "comma-separated instruction-set levels to build (haswell,skylakex,...); default all")
	force := flag.Bool("force", false, "build even when the directory already has the libraries")
	verbose := flag.Bool("v", false, "show cmake's output")
	jobs := flag.Int("j", 0, "compilers run at once (default: every CPU)")
	flag.Parse()

	if !kernels.Supported() {
		fmt.Println("rlm-kernels: nothing to build on this platform; programs run the kernels compiled into them")
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(*dir), 0o755); err != nil {
		return err
	}
	unlock, err := kernels.Lock(*dir)
	if err != nil {
		return err
	}
	defer unlock()
	if m, err := kernels.ReadManifest(*dir); err == nil && !*force && m.Version == kernels.Version && m.Revision == kernels.Revision && len(kernels.Libraries(*dir)) > 0 {
		fmt.Printf("rlm-kernels: %s already has CPU kernels (%s) for %s@%s; -force rebuilds\n",
			*dir, strings.Join(m.Variants, ", "), m.Module, m.Version)
		return nil
	}
	o := kernels.Options{Dir: *dir, Jobs: *jobs}
	if *variants != "" {
		o.Variants = strings.Split(*variants, ",")
	}
	if *verbose {
		o.Log = os.Stderr
	} else {
		o.Log = io.Discard
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fmt.Printf("rlm-kernels: building llama.cpp's CPU kernels (%s@%s) into %s; a few minutes\n", kernels.Module, kernels.Version, *dir)
	start := time.Now()
	if err := kernels.Build(ctx, o); err != nil {
		return err
	}
	m, err := kernels.ReadManifest(*dir)
	if err != nil {
		return err
	}
	fmt.Printf("rlm-kernels: built %s in %s\n", strings.Join(m.Variants, ", "), time.Since(start).Round(time.Second))
	return nil
}
