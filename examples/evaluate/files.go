package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// tempPrefix starts the names of the temporary files that writeFileAtomic
// renames into place; a process killed while writing one leaves it behind,
// and removeStaleTemps clears it on the next start.
const tempPrefix = ".tmp-"

// writeFileAtomic writes a file so that readers, and a process killed at
// any moment, see either the old file or the whole new one: write a
// temporary file beside it, sync it, rename it into place, sync the
// directory.
func writeFileAtomic(name string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(name)
	f, err := os.CreateTemp(dir, tempPrefix+filepath.Base(name)+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil { // CreateTemp's 0600 is for secrets
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), name); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir syncs a directory, so that the entries created or renamed in it
// survive a crash of the machine.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// removeStaleTemps removes the temporary files a killed process left in
// dir.
func removeStaleTemps(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// openLog opens an append-only file of lines for reading and appending,
// creating it when it does not exist (created is then true: sync its
// directory, so that the new entry survives a crash).
func openLog(path string) (f *os.File, created bool, err error) {
	_, statErr := os.Stat(path)
	created = errors.Is(statErr, os.ErrNotExist)
	f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	return f, created, err
}

// cutTornLine reads an append-only file of lines from where it is and
// returns its complete lines. A last line without its newline is the trace
// of a process killed while appending: it is cut off the file, on disk
// too, and torn is its length, so that the next append starts a fresh line.
func cutTornLine(f *os.File) (complete []byte, torn int, err error) {
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, 0, fmt.Errorf("read: %w", err)
	}
	n := bytes.LastIndexByte(data, '\n') + 1
	if n < len(data) {
		if err := f.Truncate(int64(n)); err != nil {
			return nil, 0, fmt.Errorf("cut torn line: %w", err)
		}
		if err := f.Sync(); err != nil {
			return nil, 0, fmt.Errorf("cut torn line: %w", err)
		}
	}
	return data[:n], len(data) - n, nil
}
