package gguf

import "slices"

// Well-known metadata keys.
const (
	KeyArchitecture = "general.architecture"
	KeyName         = "general.name"
	KeyFileType     = "general.file_type"
)

// KeyValues returns the metadata entries in file order. The slice is a copy;
// array values inside it are shared and must not be modified.
func (f *File) KeyValues() []KeyValue { return slices.Clone(f.kvs) }

// Value returns the value of key and whether it is present.
func (f *File) Value(key string) (Value, bool) {
	i, ok := f.keys[key]
	if !ok {
		return Value{}, false
	}
	return f.kvs[i].Value, true
}

// lookup returns the value of key, or an [ErrKeyNotFound] error.
func (f *File) lookup(key string) (Value, error) {
	v, ok := f.Value(key)
	if !ok {
		return Value{}, f.keyError(key, ErrKeyNotFound, "is absent")
	}
	return v, nil
}

// typed returns the value of key converted by get, or an error wrapping
// [ErrKeyNotFound] or [ErrKeyType].
func typed[T any](f *File, key, want string, get func(Value) (T, bool)) (T, error) {
	v, err := f.lookup(key)
	if err != nil {
		var zero T
		return zero, err
	}
	x, ok := get(v)
	if !ok {
		var zero T
		return zero, f.keyError(key, ErrKeyType, "is %s, want %s", v.describe(), want)
	}
	return x, nil
}

// String returns the string value of key.
func (f *File) String(key string) (string, error) {
	return typed(f, key, "str", As[string])
}

// Uint returns the value of key, an integer of any width that is not
// negative.
func (f *File) Uint(key string) (uint64, error) {
	return typed(f, key, "an unsigned integer", Value.Uint)
}

// Int returns the value of key, an integer of any width that fits an int64.
func (f *File) Int(key string) (int64, error) {
	return typed(f, key, "an integer", Value.Int)
}

// Float returns the value of key, a f32 or f64.
func (f *File) Float(key string) (float64, error) {
	return typed(f, key, "a float", Value.Float)
}

// Bool returns the bool value of key.
func (f *File) Bool(key string) (bool, error) {
	return typed(f, key, "bool", Value.Bool)
}

// Strings returns the elements of key, an array of strings. The slice is
// shared: do not modify it.
func (f *File) Strings(key string) ([]string, error) {
	return typed(f, key, "arr[str]", Value.Strings)
}

// Array returns the value of key, an array of any element type; read its
// elements with [ArrayValues].
func (f *File) Array(key string) (Value, error) {
	return typed(f, key, "arr", func(v Value) (Value, bool) { return v, v.Type() == ValueArray })
}

// Architecture returns general.architecture ("qwen2", "llama", ...), the
// prefix of the model's hyperparameter keys.
func (f *File) Architecture() (string, error) { return f.String(KeyArchitecture) }

// FileType returns general.file_type.
func (f *File) FileType() (FileType, error) {
	v, err := typed(f, KeyFileType, "u32", As[uint32])
	return FileType(v), err
}

// Tensors returns the tensor infos in file order (copies).
func (f *File) Tensors() []TensorInfo {
	out := make([]TensorInfo, len(f.tensors))
	for i, t := range f.tensors {
		t.Shape = slices.Clone(t.Shape)
		out[i] = t
	}
	return out
}

// Tensor returns the info of the tensor called name (a copy).
func (f *File) Tensor(name string) (TensorInfo, bool) {
	i, ok := f.names[name]
	if !ok {
		return TensorInfo{}, false
	}
	t := f.tensors[i]
	t.Shape = slices.Clone(t.Shape)
	return t, true
}
