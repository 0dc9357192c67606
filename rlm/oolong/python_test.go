package oolong

// These tests check the Python semantics the scorer reproduces against a real
// python3 interpreter (skipped when none is installed). Python's Unicode
// database may be older than Go's (Python 3.11 has Unicode 14.0, Go and
// Python 3.12 have 15.0): characters Python does not know are left out.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runPython runs script with python3, feeding it stdin, and returns its
// standard output.
func runPython(t *testing.T, script string, stdin []byte) []byte {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed; skipping the comparison with Python")
	}
	cmd := exec.CommandContext(t.Context(), python, "-c", script)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "python3: %s", stderr.String())
	return out
}

func TestCharacterClassesMatchPython(t *testing.T) {
	const script = `
import sys, unicodedata
w = sys.stdout.write
for cp in range(0x110000):
    if 0xD800 <= cp <= 0xDFFF:
        continue
    c = chr(cp)
    if unicodedata.category(c) in ("Cn", "Co"):
        continue
    try:
        dec = int(c)
    except ValueError:
        dec = -1
    try:
        int("5" + c)
        intspace = dec < 0
    except ValueError:
        intspace = False
    final_after = ("A" + c + "\u03a3").lower()[-1] == "\u03c2"
    final_before = ("A\u03a3" + c).lower()[1] == "\u03c2"
    w("%x %d %d %d %s %d %d\n" % (cp, c.isspace(), intspace, dec,
        "-".join("%x" % ord(x) for x in c.lower()), final_after, final_before))
`
	out := runPython(t, script, nil)
	lines := bufio.NewScanner(bytes.NewReader(out))
	checked := 0
	for lines.Scan() {
		var cp, lower string
		var space, intSpace, dec, finalAfter, finalBefore int
		_, err := fmt.Sscanf(lines.Text(), "%s %d %d %d %s %d %d", &cp, &space, &intSpace, &dec, &lower, &finalAfter, &finalBefore)
		require.NoError(t, err, lines.Text())
		n, err := strconv.ParseUint(cp, 16, 32)
		require.NoError(t, err)
		r := rune(n)
		c := string(r)
		var wantLower strings.Builder
		for part := range strings.SplitSeq(lower, "-") {
			v, err := strconv.ParseUint(part, 16, 32)
			require.NoError(t, err)
			wantLower.WriteRune(rune(v))
		}
		ok := assert.Equal(t, space == 1, isPySpace(r), "isspace U+%04X", r)
		ok = assert.Equal(t, intSpace == 1, isIntSpace(r), "int() whitespace U+%04X", r) && ok
		ok = assert.Equal(t, dec, decimalValue(r), "decimal value U+%04X", r) && ok
		ok = assert.Equal(t, wantLower.String(), pyLower(c), "lower U+%04X", r) && ok
		lowered := []rune(pyLower("A" + c + "Σ"))
		ok = assert.Equal(t, finalAfter == 1, lowered[len(lowered)-1] == 'ς', "final sigma after U+%04X", r) && ok
		ok = assert.Equal(t, finalBefore == 1, []rune(pyLower("AΣ" + c))[1] == 'ς', "final sigma before U+%04X", r) && ok
		if !ok {
			t.FailNow()
		}
		checked++
	}
	require.NoError(t, lines.Err())
	assert.Greater(t, checked, 100_000, "Python listed too few characters")
}

// randomStrings makes strings from an alphabet of the characters that matter
// to int(), strip() and lower().
func randomStrings(n int, alphabet []string) []string {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		for range rng.IntN(8) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		out[i] = b.String()
	}
	return out
}

func TestParsePyIntMatchesPython(t *testing.T) {
	inputs := randomStrings(30_000, []string{
		"0", "1", "7", "9", "٣", "４", "𝟗", "१", "_", "+", "-", " ", "\t", "\n", "\v",
		"\u00a0", "\u3000", "\u2007", "\x1c", "\x85", "a", ".", "e", "x", "\u200b", "−", "\x00",
	})
	inputs = append(inputs,
		strings.Repeat("9", maxIntDigits), strings.Repeat("9", maxIntDigits+1),
		"0"+strings.Repeat("9", maxIntDigits), strings.Repeat("1_", maxIntDigits-1)+"1",
		"-"+strings.Repeat("4", 40), " +0_0 ",
	)
	stdin, err := json.Marshal(inputs)
	require.NoError(t, err)
	const script = `
import json, sys
out = []
for s in json.load(sys.stdin):
    try:
        out.append(str(int(s)))
    except ValueError:
        out.append(None)
json.dump(out, sys.stdout)
`
	var want []*string
	require.NoError(t, json.Unmarshal(runPython(t, script, stdin), &want))
	require.Len(t, want, len(inputs))
	for i, in := range inputs {
		got, ok := parsePyInt(in)
		if want[i] == nil {
			assert.False(t, ok, "int(%q) raises ValueError in Python", in)
			continue
		}
		if assert.True(t, ok, "int(%q) is %s in Python", in, *want[i]) {
			assert.Equal(t, *want[i], got.String(), "int(%q)", in)
		}
	}
}

func TestStripAndLowerMatchPython(t *testing.T) {
	inputs := randomStrings(30_000, []string{
		"Σ", "σ", "ς", "A", "a", "'", ".", ":", "\u0301", "ʰ", " ", "\u00a0", "\x1c", "İ",
		"1", "-", "\u00ad", "ͅ", "ᾼ", "ǅ", "K", "ß", "Ⅻ", "\u2019",
	})
	stdin, err := json.Marshal(inputs)
	require.NoError(t, err)
	const script = `
import json, sys
json.dump([[s.strip(), s.lower()] for s in json.load(sys.stdin)], sys.stdout)
`
	var want [][2]string
	require.NoError(t, json.Unmarshal(runPython(t, script, stdin), &want))
	require.Len(t, want, len(inputs))
	for i, in := range inputs {
		assert.Equal(t, want[i][0], pyStrip(in), "%q.strip()", in)
		assert.Equal(t, want[i][1], pyLower(in), "%q.lower()", in)
	}
}

func TestPowersMatchPython(t *testing.T) {
	const script = `
import platform, struct
print(platform.libc_ver()[0])
for n in range(2600):
    print(struct.pack(">d", 0.75 ** n).hex())
`
	lines := strings.Fields(string(runPython(t, script, nil)))
	if lines[0] != "glibc" {
		t.Skipf("python3 runs on %q, not glibc, whose pow() the powers follow", lines[0])
	}
	for n, hex := range lines[1:] {
		bits, err := strconv.ParseUint(hex, 16, 64)
		require.NoError(t, err)
		assert.Equal(t, math.Float64frombits(bits), intScore(big.NewInt(int64(n))), "0.75 ** %d", n)
	}
}

func TestPyLowerKeepsInvalidUTF8(t *testing.T) {
	in := "A\xffΣ\xfe"
	got := pyLower(in)
	assert.Equal(t, "a\xffσ\xfe", got)
	assert.False(t, utf8.ValidString(got))
}
