package gguf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// SplitPath returns the name of part i (0-based) of a model split into n
// parts, as llama.cpp names them: prefix-00001-of-00003.gguf for i = 0, n = 3.
func SplitPath(prefix string, i, n int) string {
	return fmt.Sprintf("%s-%05d-of-%05d.gguf", prefix, i+1, n)
}

// SplitPaths returns the paths of every part of the model whose first part
// is at path, in order, as llama.cpp finds them: from split.count in the
// first part's metadata and its name, which must end in -00001-of-0000N.gguf.
// A model in one file gives []string{path}. A missing part gives an error
// wrapping both [ErrSplit] and [fs.ErrNotExist].
func SplitPaths(path string) ([]string, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.splitPaths()
}

// splitCount returns split.count, or 1 when the file is not split.
func (f *File) splitCount() (int, error) {
	v, ok := f.Value(keySplitCount)
	if !ok {
		return 1, nil
	}
	n, isU16 := As[uint16](v)
	if !isU16 {
		return 0, f.keyError(keySplitCount, ErrSplit, "is %s, not u16", v.describe())
	}
	return max(int(n), 1), nil
}

func (f *File) splitPaths() ([]string, error) {
	n, err := f.splitCount()
	if err != nil || n == 1 {
		return []string{f.path}, err
	}
	v, ok := f.Value(keySplitNo)
	if !ok {
		return nil, f.keyError(keySplitNo, ErrSplit, "is absent in a model split in %d parts", n)
	}
	if no, _ := As[uint16](v); no != 0 {
		return nil, &Error{Path: f.path, Offset: -1, What: fmt.Sprintf("is part %d of %d, not the first", no+1, n), Err: ErrSplit}
	}
	suffix := SplitPath("", 0, n)
	prefix, ok := strings.CutSuffix(f.path, suffix)
	if !ok || prefix == "" {
		return nil, &Error{Path: f.path, Offset: -1, What: fmt.Sprintf("first of %d parts is not named PREFIX%s", n, suffix), Err: ErrSplit}
	}
	paths := make([]string, n)
	for i := range paths {
		paths[i] = SplitPath(prefix, i, n)
		if i == 0 {
			continue
		}
		if _, err := os.Stat(paths[i]); err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, &Error{Path: paths[i], Offset: -1, What: fmt.Sprintf("part %d of %d", i+1, n), Err: fmt.Errorf("%w: %w", ErrSplit, err)}
		}
	}
	return paths, nil
}

// Validate checks the model at path as llama.cpp would load it: the file,
// and when it is the first part of a split model, every part. Each part must
// be valid and numbered in order (split.no), and together the parts must
// hold split.tensors.count distinct tensors.
func Validate(path string) error {
	first, err := Open(path)
	if err != nil {
		return err
	}
	defer first.Close()
	paths, err := first.splitPaths()
	if err != nil || len(paths) == 1 {
		return err
	}
	want, err := typed(first, keySplitTensorsCount, "i32", As[int32])
	if err != nil {
		return err
	}
	seen := map[string]string{} // tensor name → part path
	for i, p := range paths {
		part := first
		if i > 0 {
			if part, err = Open(p); err != nil {
				return err
			}
		}
		err := checkPart(part, i, len(paths), seen)
		if i > 0 {
			part.Close()
		}
		if err != nil {
			return err
		}
	}
	if len(seen) != int(want) {
		return first.keyError(keySplitTensorsCount, ErrSplit, "is %d, but the %d parts hold %d tensors", want, len(paths), len(seen))
	}
	return nil
}

// checkPart checks that part is part i of n and holds no tensor of an
// earlier part, recording its tensors in seen.
func checkPart(part *File, i, n int, seen map[string]string) error {
	v, ok := part.Value(keySplitNo)
	if !ok {
		return part.keyError(keySplitNo, ErrSplit, "is absent in part %d of %d", i+1, n)
	}
	if no, _ := As[uint16](v); int(no) != i {
		return part.keyError(keySplitNo, ErrSplit, "is %v in part %d of %d, want %d", v, i+1, n, i)
	}
	if count, err := part.splitCount(); err != nil || count != n {
		if err != nil {
			return err
		}
		return part.keyError(keySplitCount, ErrSplit, "is %d in part %d, want %d", count, i+1, n)
	}
	for _, t := range part.tensors {
		if other, dup := seen[t.Name]; dup {
			return &Error{Path: part.path, Offset: -1, What: fmt.Sprintf("tensor %q is also in %s", t.Name, other), Err: ErrSplit}
		}
		seen[t.Name] = part.path
	}
	return nil
}

// WriteSplit writes a model as parts files named [SplitPath](prefix, i,
// parts), the way llama.cpp's gguf-split does: the first part holds all of
// kvs, every part holds split.no, split.count and split.tensors.count, and
// the tensors are dealt out in order, as evenly as their count allows. It
// returns the paths written.
func WriteSplit(prefix string, parts int, kvs []KeyValue, tensors []Tensor, opts ...WriterOption) ([]string, error) {
	if parts < 1 || parts > 0xFFFF {
		return nil, &Error{Path: prefix, Offset: -1, What: fmt.Sprintf("write split: %d parts, want 1 to 65535", parts), Err: ErrSplit}
	}
	paths := make([]string, parts)
	for i := range paths {
		paths[i] = SplitPath(prefix, i, parts)
		if err := writePart(paths[i], i, parts, kvs, tensors, opts); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

func writePart(path string, i, parts int, kvs []KeyValue, tensors []Tensor, opts []WriterOption) error {
	w, err := Create(path, opts...)
	if err != nil {
		return err
	}
	defer w.Close() // after an error, removes the file without writing it
	split := []KeyValue{
		{keySplitNo, ValueOf(uint16(i))},
		{keySplitCount, ValueOf(uint16(parts))},
		{keySplitTensorsCount, ValueOf(int32(len(tensors)))},
	}
	for _, kv := range split {
		if err := w.Set(kv.Key, kv.Value); err != nil {
			return err
		}
	}
	for _, kv := range kvs {
		if strings.HasPrefix(kv.Key, "split.") || (i > 0 && kv.Key != KeyAlignment) {
			continue // every part needs the alignment its data is laid out with
		}
		if err := w.Set(kv.Key, kv.Value); err != nil {
			return err
		}
	}
	for _, t := range tensors[i*len(tensors)/parts : (i+1)*len(tensors)/parts] {
		if err := w.AddTensor(t); err != nil {
			return err
		}
	}
	return w.Close()
}
