package cli_test

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/go-rlm/rlm/examples/internal/cli"
)

// A command's flags: -h prints the usage line and the defaults, and
// returns flag.ErrHelp, which cli.Main turns into exit status 0.
func ExampleParse() {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(os.Stdout) // standard error, in a command
	fs.String("model", "", "GGUF model file (required)")
	n := fs.Int("n", 64, "tokens to generate")

	err := cli.Parse(fs, "-model FILE.gguf [flags]", []string{"-h"})
	fmt.Println(errors.Is(err, flag.ErrHelp))

	err = cli.Parse(fs, "-model FILE.gguf [flags]", []string{"-n", "8", "stray"})
	fmt.Println(*n, err)
	fmt.Println(cli.Required(fs, "model"))
	// Output:
	// usage: generate -model FILE.gguf [flags]
	//   -model string
	//     	GGUF model file (required)
	//   -n int
	//     	tokens to generate (default 64)
	// true
	// 8 unexpected argument "stray"
	// -model is required
}

func ExampleWriteCSV() {
	dir, err := os.MkdirTemp("", "cli-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "rolls.csv")
	err = cli.WriteCSV(path, [][]string{{"who", "roll"}, {"Laura", "17"}, {"Travis", "natural 20, again"}})
	if err != nil {
		log.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(b))
	// Output:
	// who,roll
	// Laura,17
	// Travis,"natural 20, again"
}
