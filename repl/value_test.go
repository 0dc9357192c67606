package repl

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendValue(t *testing.T) {
	type point struct {
		X int `json:"x"`
	}
	n := 7
	cases := []struct {
		name string
		in   any
		want string
	}{
		{"nil", nil, `null`},
		{"string escapes", "a\"b\\c\n\t\x01é", `"a\"b\\c\n\t\u0001é"`},
		{"invalid utf-8", "ok\xffok", `"ok\ufffdok"`},
		{"bytes as text", []byte("hi"), `"hi"`},
		{"whole float keeps a point", 2.0, `2.0`},
		{"float", 0.1, `0.1`},
		{"float with exponent", 1e21, `1e+21`},
		{"float32", float32(1.5), `1.5`},
		{"nan", math.NaN(), `NaN`},
		{"infinities", []float64{math.Inf(1), math.Inf(-1)}, `[Infinity,-Infinity]`},
		{"ints", []any{int8(-1), uint16(2), int64(math.MaxInt64), uint64(math.MaxUint64)},
			`[-1,2,9223372036854775807,18446744073709551615]`},
		{"map sorted", map[string]any{"b": 1, "a": []string{"x"}}, `{"a":["x"],"b":1}`},
		{"typed map", map[string]float64{"z": 1}, `{"z":1.0}`},
		{"array", [2]bool{true, false}, `[true,false]`},
		{"pointer", &n, `7`},
		{"nil slice", []int(nil), `null`},
		{"struct via encoding/json", point{X: 3}, `{"x":3}`},
		{"json number", json.Number("12.5"), `12.5`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := appendValue(nil, tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got))
		})
	}
	for name, bad := range map[string]any{
		"channel":       make(chan int),
		"function":      func() {},
		"int-keyed map": map[int]string{1: "a"},
		"complex":       complex(1, 2),
	} {
		_, err := appendValue(nil, bad)
		assert.Error(t, err, name)
	}
	deep := any("leaf")
	for range maxValueDepth + 5 {
		deep = []any{deep}
	}
	_, err := appendValue(nil, deep)
	assert.Error(t, err, "nesting is bounded")
}

func TestValuesFromPython(t *testing.T) {
	m, err := parseMessage(frame{header: []byte(`{"op":"reply","id":1,"value":{"i": 3, "f": 3.0, "e": 1e3,
		"big": 123456789012345678901234567890, "neg": -9223372036854775808, "l": [true, null, "s"]}}`)})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{
		"i": int64(3), "f": 3.0, "e": 1000.0, "big": "123456789012345678901234567890",
		"neg": int64(math.MinInt64), "l": []any{true, nil, "s"},
	}, m.Value)
	_, err = parseMessage(frame{header: []byte(`{"op":"reply","value": `)})
	assert.ErrorIs(t, err, errProtocol)
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"context", "prompt", "_private", "x1", "FINAL_VAR"} {
		assert.NoError(t, checkName(ok), ok)
	}
	for _, bad := range []string{"", "1x", "a-b", "a b", "lambda", "None", "__dunder__", "café"} {
		assert.Error(t, checkName(bad), bad)
	}
}
