package cli

import (
	"encoding/csv"
	"io"
	"os"
)

// WriteFile creates (or truncates) the file at path and has write fill it.
// It returns the first error of creating, writing and closing the file.
func WriteFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WriteCSV writes records, a header first, as a CSV file at path.
func WriteCSV(path string, records [][]string) error {
	return WriteFile(path, func(w io.Writer) error { return csv.NewWriter(w).WriteAll(records) })
}
