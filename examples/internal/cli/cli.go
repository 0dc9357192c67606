package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
)

// RunFunc runs a command with the command line's arguments (without the
// program's name), writing its results to stdout.
type RunFunc func(ctx context.Context, args []string, stdout io.Writer) error

// Main runs a command and exits. run gets a context that an interrupt
// cancels, the command line's arguments and standard output. Main exits
// with status 0 when run returns nil or flag.ErrHelp, and otherwise prints
// "NAME: " and the error on one line to standard error and exits with
// status 1.
func Main(name string, run RunFunc) {
	os.Exit(exitCode(name, run))
}

// exitCode runs the command and returns its exit status.
func exitCode(name string, run RunFunc) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, name+":", err)
		return 1
	}
	return 0
}

// Parse parses args with fs, which should be made with
// flag.ContinueOnError, and returns the error rather than printing it. On
// -h it prints "usage: NAME SYNOPSIS" and the flags' defaults to fs's
// output (standard error unless set) and returns flag.ErrHelp. An argument
// left after the flags is an error.
func Parse(fs *flag.FlagSet, synopsis string, args []string) error {
	out := fs.Output()
	fs.SetOutput(io.Discard)
	defer fs.SetOutput(out)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(out, "usage: %s %s\n", fs.Name(), synopsis)
			fs.SetOutput(out)
			fs.PrintDefaults()
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// Required returns the error "-NAME is required" for the first of the
// named flags of fs whose value is empty, or nil. It panics if fs has no
// flag of a name: that is a bug of the command.
func Required(fs *flag.FlagSet, names ...string) error {
	for _, name := range names {
		f := fs.Lookup(name)
		if f == nil {
			panic("cli: no flag -" + name)
		}
		if f.Value.String() == "" {
			return fmt.Errorf("-%s is required", name)
		}
	}
	return nil
}

// A NamedModel is a model that a flag names, as NAME=MODEL: a worker that
// code reaches with model="NAME".
type NamedModel struct {
	Name  string `json:"name"`
	Model string `json:"model"` // a GGUF file, or an hf:// spec where the program takes one
}

// ParseNamedModels reads the values of a repeatable flag of NAME=MODEL
// pairs (-extra-worker); flagName is for the error.
func ParseNamedModels(flagName string, values []string) ([]NamedModel, error) {
	var out []NamedModel
	for _, v := range values {
		name, model, ok := strings.Cut(v, "=")
		if !ok || name == "" || model == "" {
			return nil, fmt.Errorf("-%s %q: want NAME=MODEL", flagName, v)
		}
		out = append(out, NamedModel{Name: name, Model: model})
	}
	return out, nil
}

// Strings is a flag.Value that may be given several times: each use
// appends its value.
type Strings []string

func (s *Strings) String() string { return strings.Join(*s, " | ") }

// Set appends v.
func (s *Strings) Set(v string) error {
	*s = append(*s, v)
	return nil
}
