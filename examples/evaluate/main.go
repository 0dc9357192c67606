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

// The exit statuses tell a scheduler whether to run the command again: an
// interrupted run resumes where it stopped, while bad input or a broken
// setup would fail again and must not loop (SLURM: RequeueExit=75).
const (
	exitOK          = 0
	exitFailed      = 1  // any other error: not worth an automatic rerun
	exitUsage       = 2  // a malformed command line
	exitInterrupted = 75 // EX_TEMPFAIL: SIGINT or SIGTERM stopped it; a rerun resumes
)

// run runs the command line args and returns the exit status (above),
// reporting an error on one line.
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
		return exitOK
	case errors.As(err, new(usageError)):
		fmt.Fprintln(stderr, "evaluate:", err)
		return exitUsage
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "evaluate:", err)
		return exitInterrupted
	default:
		fmt.Fprintln(stderr, "evaluate:", err)
		return exitFailed
	}
}
