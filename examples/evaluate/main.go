package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args and returns the exit status: 0 on
// success, 2 for a malformed command line, 1 for any other error, which it
// reports on one line.
func run(args []string, stdout, stderr io.Writer) int {
	// An interrupt or a SLURM preemption (SIGTERM) cancels the example in
	// flight; the journal keeps the ones before it.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if len(args) > 0 && args[0] == "merge" {
		err = mergeCommand(args[1:], stdout, stderr)
	} else {
		err = evaluateCommand(ctx, args, stdout, stderr)
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintln(stderr, "evaluate:", err)
		return 2
	default:
		fmt.Fprintln(stderr, "evaluate:", err)
		return 1
	}
}
