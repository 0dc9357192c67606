package gguf

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ValueType is the type of a metadata value (enum gguf_type).
type ValueType uint32

// The metadata value types, numbered as on disk.
const (
	ValueUint8   ValueType = 0
	ValueInt8    ValueType = 1
	ValueUint16  ValueType = 2
	ValueInt16   ValueType = 3
	ValueUint32  ValueType = 4
	ValueInt32   ValueType = 5
	ValueFloat32 ValueType = 6
	ValueBool    ValueType = 7
	ValueString  ValueType = 8
	ValueArray   ValueType = 9
	ValueUint64  ValueType = 10
	ValueInt64   ValueType = 11
	ValueFloat64 ValueType = 12

	valueTypeCount = 13
)

var valueTypeNames = [valueTypeCount]string{
	"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64",
}

// String returns ggml's short name for the type ("u32", "str", "arr"), or
// "ValueType(N)" for an unknown number.
func (t ValueType) String() string {
	if t >= valueTypeCount {
		return "ValueType(" + strconv.FormatUint(uint64(t), 10) + ")"
	}
	return valueTypeNames[t]
}

// size returns the encoded size of one scalar of type t, or 0 for strings,
// arrays and unknown types.
func (t ValueType) size() int64 {
	switch t {
	case ValueUint8, ValueInt8, ValueBool:
		return 1
	case ValueUint16, ValueInt16:
		return 2
	case ValueUint32, ValueInt32, ValueFloat32:
		return 4
	case ValueUint64, ValueInt64, ValueFloat64:
		return 8
	}
	return 0
}

// Scalar is the set of Go types a metadata value or array element can hold.
type Scalar interface {
	uint8 | int8 | uint16 | int16 | uint32 | int32 | float32 | bool | string | uint64 | int64 | float64
}

// Value is one metadata value: a scalar or an array of scalars (GGUF has no
// nested arrays that ggml accepts). The zero Value is invalid. A Value is
// immutable and safe for concurrent use.
type Value struct {
	typ  ValueType // a scalar type, or ValueArray
	elem ValueType // the element type when typ is ValueArray
	v    any       // uint8 … float64, string, bool, or a slice of one of them
}

// KeyValue is one metadata entry.
type KeyValue struct {
	Key   string
	Value Value
}

func valueTypeOf(x any) ValueType {
	switch x.(type) {
	case uint8:
		return ValueUint8
	case int8:
		return ValueInt8
	case uint16:
		return ValueUint16
	case int16:
		return ValueInt16
	case uint32:
		return ValueUint32
	case int32:
		return ValueInt32
	case float32:
		return ValueFloat32
	case bool:
		return ValueBool
	case string:
		return ValueString
	case uint64:
		return ValueUint64
	case int64:
		return ValueInt64
	case float64:
		return ValueFloat64
	}
	panic(fmt.Sprintf("gguf: no value type for %T", x)) // unreachable through the Scalar constraint
}

// ValueOf returns a scalar Value holding x, typed after x's Go type
// (uint32 → u32, string → str, ...).
func ValueOf[T Scalar](x T) Value {
	return Value{typ: valueTypeOf(x), v: x}
}

// ArrayOf returns an array Value holding a copy of xs.
func ArrayOf[T Scalar](xs []T) Value {
	var zero T
	clone := make([]T, len(xs)) // never nil, as arrays read from a file are not
	copy(clone, xs)
	return Value{typ: ValueArray, elem: valueTypeOf(zero), v: clone}
}

// Type returns the value's type: a scalar type or [ValueArray].
func (v Value) Type() ValueType { return v.typ }

// ElemType returns the element type of an array, or the type of a scalar.
func (v Value) ElemType() ValueType {
	if v.typ == ValueArray {
		return v.elem
	}
	return v.typ
}

// Len returns the number of elements of an array, or 1 for a scalar.
func (v Value) Len() int {
	if v.typ != ValueArray {
		return 1
	}
	switch a := v.v.(type) {
	case []uint8:
		return len(a)
	case []int8:
		return len(a)
	case []uint16:
		return len(a)
	case []int16:
		return len(a)
	case []uint32:
		return len(a)
	case []int32:
		return len(a)
	case []float32:
		return len(a)
	case []bool:
		return len(a)
	case []string:
		return len(a)
	case []uint64:
		return len(a)
	case []int64:
		return len(a)
	case []float64:
		return len(a)
	}
	return 0
}

// Interface returns the Go value: one of the [Scalar] types, or a slice of
// one for an array. The slice is shared: do not modify it.
func (v Value) Interface() any { return v.v }

// As returns the value as T when its type is exactly T (a u32 value is not a
// uint64, nor an int32).
func As[T Scalar](v Value) (T, bool) {
	x, ok := v.v.(T)
	return x, ok
}

// ArrayValues returns the elements of an array whose elements are exactly
// of type T. The slice is shared: do not modify it.
func ArrayValues[T Scalar](v Value) ([]T, bool) {
	xs, ok := v.v.([]T)
	return xs, ok
}

// Uint returns any integer scalar that is not negative as a uint64.
func (v Value) Uint() (uint64, bool) {
	switch x := v.v.(type) {
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	}
	if i, ok := v.signed(); ok && i >= 0 {
		return uint64(i), true
	}
	return 0, false
}

// Int returns any integer scalar that fits an int64.
func (v Value) Int() (int64, bool) {
	if i, ok := v.signed(); ok {
		return i, true
	}
	switch x := v.v.(type) {
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	}
	return 0, false
}

func (v Value) signed() (int64, bool) {
	switch x := v.v.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	}
	return 0, false
}

// Float returns a f32 or f64 scalar as a float64.
func (v Value) Float() (float64, bool) {
	switch x := v.v.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// Bool returns a bool scalar.
func (v Value) Bool() (bool, bool) { return As[bool](v) }

// Strings returns the elements of an array of strings.
func (v Value) Strings() ([]string, bool) { return ArrayValues[string](v) }

// String returns a string value as it is, and any other value formatted
// like fmt's %v of its Go value ("64", "true", "[a b c]").
func (v Value) String() string {
	if s, ok := v.v.(string); ok {
		return s
	}
	if v.v == nil {
		return "<invalid>"
	}
	return fmt.Sprint(v.v)
}

// describe returns the type as llama.cpp prints it: "u32", or "arr[str,259]".
func (v Value) describe() string {
	if v.typ != ValueArray {
		return v.typ.String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "arr[%s,%d]", v.elem, v.Len())
	return b.String()
}
