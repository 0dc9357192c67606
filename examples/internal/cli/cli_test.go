package cli_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/examples/internal/cli"
	"github.com/go-rlm/rlm/examples/internal/cmdtest"
	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/llama/llamatest"
)

// mainMode, when set in the environment, makes TestMainExits run cli.Main
// with the command it names instead of testing: the test runs its own
// binary that way to see how Main exits.
const mainMode = "CLI_TEST_MAIN_MODE"

func TestMainExits(t *testing.T) {
	if mode := os.Getenv(mainMode); mode != "" {
		cli.Main("demo", func(_ context.Context, args []string, stdout io.Writer) error {
			switch mode {
			case "help":
				return fmt.Errorf("parse: %w", flag.ErrHelp)
			case "fail":
				return errors.New("-model is required")
			}
			fmt.Fprintf(stdout, "ran with %q\n", args)
			return nil
		})
		return
	}
	for _, tt := range []struct {
		mode, stdout, stderr string
		code                 int
	}{
		{"ok", `ran with ["-test.run=^TestMainExits$"]` + "\n", "", 0},
		{"help", "", "", 0},
		{"fail", "", "demo: -model is required\n", 1},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			t.Setenv(mainMode, tt.mode)
			code, stdout, stderr := cmdtest.Run(t, os.Args[0], "-test.run=^TestMainExits$")
			assert.Equal(t, tt.code, code)
			assert.Equal(t, tt.stdout, stdout)
			assert.Equal(t, tt.stderr, stderr)
		})
	}
}

// newFlagSet is a flag set with a string flag -s and an int flag -n,
// writing to out.
func newFlagSet(out io.Writer) (*flag.FlagSet, *string, *int) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(out)
	return fs, fs.String("s", "", "a string (required)"), fs.Int("n", 3, "a number")
}

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		err  string // "" for no error
		help bool
	}{
		{"flags", []string{"-s", "x", "-n", "5"}, "", false},
		{"help", []string{"-h"}, flag.ErrHelp.Error(), true},
		{"unknown flag", []string{"-bogus"}, "flag provided but not defined: -bogus", false},
		{"bad value", []string{"-n", "x"}, `invalid value "x" for flag -n`, false},
		{"argument", []string{"-s", "x", "extra", "more"}, `unexpected argument "extra"`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			fs, s, n := newFlagSet(&out)
			err := cli.Parse(fs, "-s TEXT [flags]", tt.args)
			if tt.err == "" {
				require.NoError(t, err)
				assert.Equal(t, "x", *s)
				assert.Equal(t, 5, *n)
			} else {
				assert.ErrorContains(t, err, tt.err)
			}
			assert.Equal(t, tt.help, errors.Is(err, flag.ErrHelp))
			if tt.help {
				assert.Equal(t, "usage: demo -s TEXT [flags]\n"+
					"  -n int\n    \ta number (default 3)\n"+
					"  -s string\n    \ta string (required)\n", out.String())
			} else {
				assert.Empty(t, out.String(), "errors are returned, not printed")
			}
			assert.Equal(t, &out, fs.Output(), "the output is restored")
		})
	}
}

func TestRequired(t *testing.T) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.String("model", "", "")
	fs.String("out", "", "")
	assert.EqualError(t, cli.Required(fs, "model", "out"), "-model is required")
	require.NoError(t, fs.Set("model", "m.gguf"))
	assert.EqualError(t, cli.Required(fs, "model", "out"), "-out is required")
	require.NoError(t, fs.Set("out", "dir"))
	assert.NoError(t, cli.Required(fs, "model", "out"))
	assert.PanicsWithValue(t, "cli: no flag -nothing", func() { _ = cli.Required(fs, "nothing") })
}

func TestStrings(t *testing.T) {
	var prompts cli.Strings
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.Var(&prompts, "prompt", "a prompt (repeatable)")
	require.NoError(t, fs.Parse([]string{"-prompt", "Hello", "-prompt", "Vex, roll"}))
	assert.Equal(t, cli.Strings{"Hello", "Vex, roll"}, prompts)
	assert.Equal(t, "Hello | Vex, roll", prompts.String())
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.txt")
	require.NoError(t, cli.WriteFile(path, func(w io.Writer) error {
		_, err := io.WriteString(w, "first\n")
		return err
	}))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "first\n", string(got))

	failed := errors.New("the writer failed")
	assert.ErrorIs(t, cli.WriteFile(path, func(io.Writer) error { return failed }), failed)
	assert.ErrorIs(t, cli.WriteFile(filepath.Join(dir, "none", "out.txt"), func(io.Writer) error { return nil }), os.ErrNotExist)

	csvPath := filepath.Join(dir, "table.csv")
	require.NoError(t, cli.WriteCSV(csvPath, [][]string{{"name", "text"}, {"Vex", "a, b"}, {"Grog", `say "hi"`}}))
	got, err = os.ReadFile(csvPath)
	require.NoError(t, err)
	assert.Equal(t, "name,text\nVex,\"a, b\"\nGrog,\"say \"\"hi\"\"\"\n", string(got))
}

func TestModelFlags(t *testing.T) {
	var f cli.ModelFlags
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	f.Register(fs)
	require.NoError(t, fs.Parse(nil))
	assert.Equal(t, cli.ModelFlags{Threads: runtime.NumCPU()}, f, "the defaults")
	assert.EqualError(t, cli.Required(fs, "model"), "-model is required")

	path := llamatest.Model(t, llamatest.DefaultConfig())
	require.NoError(t, fs.Parse([]string{"-model", path, "-threads", "1", "-ngl", "0"}))
	assert.Equal(t, cli.ModelFlags{Path: path, Threads: 1}, f)
	m, err := f.Load(context.Background())
	require.NoError(t, err)
	defer m.Close()
	c, err := f.NewContext(m, llama.WithContextSize(256))
	require.NoError(t, err)
	defer c.Close()
	assert.Equal(t, 256, c.Size(), "the further options apply")

	f.Path = filepath.Join(t.TempDir(), "none.gguf")
	_, err = f.Load(context.Background())
	assert.ErrorContains(t, err, "no such file")
	assert.False(t, strings.Contains(err.Error(), "\n"), "one line: %q", err)
}
