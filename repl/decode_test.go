package repl

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// referenceDecode is encoding/json's reading of data, with numbers as the
// package returns them: int64 when they fit, else the decimal text for
// integers, float64 otherwise.
func referenceDecode(t *testing.T, data []byte) any {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	require.NoError(t, dec.Decode(&v))
	var conv func(any) any
	conv = func(v any) any {
		switch x := v.(type) {
		case json.Number:
			s := string(x)
			if !strings.ContainsAny(s, ".eE") {
				if n, err := strconv.ParseInt(s, 10, 64); err == nil {
					return n
				}
				return s
			}
			f, _ := strconv.ParseFloat(s, 64)
			return f
		case []any:
			for i := range x {
				x[i] = conv(x[i])
			}
		case map[string]any:
			for k := range x {
				x[k] = conv(x[k])
			}
		}
		return v
	}
	return conv(v)
}

// What Python's json module writes, read by our decoder and by encoding/json:
// the two agree on every value.
func TestDecodeAgreesWithEncodingJSONOnPythonOutput(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	script := `import json, sys
values = [
    None, True, False, 0, -1, 2**63 - 1, -2**63, 2**63, -2**64, 10**40, 0.5, -1e-300, 1e308, 2.0, 1.5e-7,
    "", "plain", "quote \" backslash \\ slash /", "\x00\x01\x1f\x7f", "tab\tnew\nline\r",
    "é ü 中文 😀", "\ud800 lone high", "lone low \udc00", "\ud83d\ude00 pair", "\u2028\u2029",
    [], {}, [[[]]], {"a": {"b": [1, {"c": None}]}}, {"é": 1, "": 2, "\n": [3]},
    list(range(1000)), {str(i): i * 0.5 for i in range(100)},
]
for v in values:
    # As the bootstrap writes headers: UTF-8, lone surrogates passed through.
    text = json.dumps(v, ensure_ascii=False, allow_nan=False, separators=(',', ':'))
    sys.stdout.buffer.write(text.encode('utf-8', 'surrogatepass') + b"\n")
    sys.stdout.buffer.write(json.dumps(v).encode() + b"\n")
`
	out, err := exec.Command(python, "-c", script).Output()
	require.NoError(t, err)
	lines := bytes.Split(bytes.TrimRight(out, "\n"), []byte("\n"))
	require.Greater(t, len(lines), 60)
	for _, line := range lines {
		got, err := decodeJSON(line, 1<<20)
		require.NoError(t, err, "%s", line)
		assert.Equal(t, referenceDecode(t, line), got, "%s", line)
	}
}

func TestDecodeRejectsMalformedJSON(t *testing.T) {
	for _, bad := range []string{
		``, ` `, `{`, `[`, `[1,]`, `{"a"}`, `{"a":}`, `{a:1}`, `"unterminated`, `"bad \x escape"`,
		`"\u12"`, `01x`, `-`, `1.`, `1e`, `.5`, `tru`, `nul`, `[1] 2`, "\"raw\x01control\"",
		`NaN`, `Infinity`, `{"a":1,}`,
	} {
		_, err := decodeJSON([]byte(bad), 1<<20)
		assert.ErrorIs(t, err, errProtocol, "%q", bad)
	}
	deep := strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1)
	_, err := decodeJSON([]byte(deep), 1<<20)
	assert.ErrorIs(t, err, errProtocol, "nesting is bounded")
	ok := strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth)
	_, err = decodeJSON([]byte(ok), 1<<20)
	assert.NoError(t, err)
}

// A list of many tiny items costs far more as Go values than as JSON: the
// budget stops it before the memory is spent.
func TestDecodeBudget(t *testing.T) {
	list := []byte("[" + strings.Repeat(`"a",`, 1<<20) + `"a"]`) // 4 MiB of JSON
	_, err := decodeJSON(list, int64(len(list)))
	assert.ErrorIs(t, err, errTooLarge)
	v, err := decodeJSON(list, 128<<20)
	require.NoError(t, err)
	assert.Len(t, v, 1<<20+1)

	doc := []byte(`["` + strings.Repeat("x", 4<<20) + `"]`)
	_, err = decodeJSON(doc, int64(len(doc))+64)
	assert.NoError(t, err, "a long string costs about its length")
}
