// Package cli holds what the example commands share: the shape of main,
// flag parsing, the flags that load a model, and writing output files.
//
// # A command
//
// Every command follows one contract: an interrupt cancels its context;
// -h prints a usage line and the flags to standard error and exits 0; any
// other error, a malformed command line included, prints one line "NAME:
// reason" to standard error and exits 1. [Main] and [Parse] keep it:
//
//	func main() { cli.Main("capture", run) }
//
//	func run(ctx context.Context, args []string, stdout io.Writer) error {
//		var model cli.ModelFlags
//		fs := flag.NewFlagSet("capture", flag.ContinueOnError)
//		model.Register(fs)
//		...
//		if err := cli.Parse(fs, "-model FILE.gguf -out DIR [flags]", args); err != nil {
//			return err
//		}
//		if err := cli.Required(fs, "model", "out"); err != nil {
//			return err
//		}
//		m, err := model.Load(ctx)
//		...
//	}
//
// # Output files
//
// [WriteFile] and [WriteCSV] create a file, fill it and close it, and
// report the first error of the three.
//
// # Concurrency
//
// The functions are safe for concurrent use; a [ModelFlags] or [Strings]
// is not (it is filled once, by parsing).
package cli
