package oolong

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The scanner must agree with encoding/json on every input encoding/json
// accepts. Run with -fuzz to search beyond the seeds.

func FuzzDecodeString(f *testing.F) {
	for _, seed := range []string{
		`"plain"`, `""`, `"a\"b\\c\/d"`, `"\b\f\n\r\t"`, `"\u00e9\u00E9"`, `"\ud83c\udfb2"`,
		`"\ud800"`, `"\ud800\u0041"`, `"\udc00\ud800"`, "\"\xff\xfe\"", `"\\\""`, `"tail\\"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, literal []byte) {
		literal = bytes.TrimSpace(literal)
		var want string
		if len(literal) == 0 || literal[0] != '"' || json.Unmarshal(literal, &want) != nil {
			return
		}
		end, err := stringEnd(literal, 0)
		require.NoError(t, err)
		require.Equal(t, len(literal), end, "the string ends where encoding/json says")
		got, err := decodeString(literal)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	})
}

func FuzzScanObject(f *testing.F) {
	for _, seed := range []string{
		`{}`, ` { "a" : 1 , "b":"x" } `, `{"a":{"b":[1,{"c":"}"}]},"d":null}`,
		`{"k\"ey": "v\\", "n": -1.5e3, "t": true, "f": false}`, `{"a":1,"a":2}`, `{"a":[]}`,
		`{"x": "\u007b"}`, `{"text": "[\"]\"{"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var want map[string]json.RawMessage
		if json.Unmarshal(data, &want) != nil || want == nil {
			return
		}
		got := map[string]json.RawMessage{}
		err := scanObject(data, func(key, value []byte) error {
			k, err := decodeString(append(append([]byte{'"'}, key...), '"'))
			require.NoError(t, err)
			got[k] = append(json.RawMessage(nil), value...)
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, want, got)
	})
}

func TestScanObjectRejects(t *testing.T) {
	for _, input := range []string{
		``, `[]`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1 "b":2}`, `{"a":1}}`, `{"a":"b}`, `{"a":[1,2}`, `{1:2}`,
	} {
		t.Run(input, func(t *testing.T) {
			err := scanObject([]byte(input), func(key, value []byte) error { return nil })
			assert.ErrorIs(t, err, ErrFormat)
		})
	}
}
