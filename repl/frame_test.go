package repl

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testMagic = [8]byte{1, 2, 3, 4, 5, 6, 7, 8}

func rawFrame(magic [8]byte, header, blob string, hlen, blen uint32) []byte {
	b := append([]byte(nil), magic[:]...)
	b = binary.BigEndian.AppendUint32(b, hlen)
	b = binary.BigEndian.AppendUint32(b, blen)
	return append(append(b, header...), blob...)
}

func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	doc := strings.Repeat("document ", 1000)
	require.NoError(t, outFrame{header: []byte(`{"op":"set"}`), blob: doc}.writeTo(&buf, testMagic))
	require.NoError(t, outFrame{header: []byte(`{"op":"get"}`)}.writeTo(&buf, testMagic))

	f, err := readFrame(&buf, testMagic, 1<<20)
	require.NoError(t, err)
	assert.Equal(t, `{"op":"set"}`, string(f.header))
	assert.Equal(t, doc, string(f.blob))
	f, err = readFrame(&buf, testMagic, 1<<20)
	require.NoError(t, err)
	assert.Equal(t, `{"op":"get"}`, string(f.header))
	assert.Nil(t, f.blob)
	_, err = readFrame(&buf, testMagic, 1<<20)
	assert.ErrorIs(t, err, io.EOF, "a clean end between frames is EOF, not corruption")
}

func TestReadFrameRejectsMalformedInput(t *testing.T) {
	other := [8]byte{9, 9, 9, 9, 9, 9, 9, 9}
	cases := map[string][]byte{
		"wrong magic":           rawFrame(other, `{"op":"x"}`, "", 10, 0),
		"text written by user":  []byte("Hello from print()!\n and some more bytes"),
		"header over the limit": rawFrame(testMagic, "", "", 1<<30, 0),
		"blob over the limit":   rawFrame(testMagic, `{}`, "", 2, math.MaxUint32),
		"empty header":          rawFrame(testMagic, "", "", 0, 0),
		"truncated head":        testMagic[:5],
		"truncated body":        rawFrame(testMagic, `{"op"`, "", 100, 0),
	}
	for name, input := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := readFrame(bytes.NewReader(input), testMagic, 1<<20)
			assert.ErrorIs(t, err, errProtocol)
		})
	}
}

func TestParseMessageRejectsNonsense(t *testing.T) {
	for _, header := range []string{`not json`, `{"id": 3}`, `[1, 2]`, `{"op": 5}`} {
		_, err := parseMessage(frame{header: []byte(header)})
		assert.ErrorIs(t, err, errProtocol, header)
	}
	m, err := parseMessage(frame{header: []byte(`{"op":"done","id":7,"stdout":"hi","exception":{"type":"E","message":"m","traceback":"t"}}`)})
	require.NoError(t, err)
	assert.Equal(t, &Exception{Type: "E", Message: "m", Traceback: "t"}, m.Exception)
	assert.Equal(t, int64(7), m.ID)
}

func TestAttachBlobs(t *testing.T) {
	call := func() *childMsg {
		return &childMsg{
			Op: "call", Args: []any{nil, "q"}, Items: []any{"a", nil}, Kwargs: map[string]any{"doc": nil},
			Blobs: []blobRef{{In: "args", I: 0, N: 3}, {In: "items", I: 1, N: 2}, {In: "kwargs", K: "doc", N: 3}},
			blob:  []byte("abcdeé\xff"),
		}
	}
	m := call()
	require.NoError(t, m.attachBlobs())
	assert.Equal(t, []any{"abc", "q"}, m.Args)
	assert.Equal(t, []any{"a", "de"}, m.Items)
	assert.Equal(t, map[string]any{"doc": "é\ufffd"}, m.Kwargs, "invalid UTF-8 becomes U+FFFD, as in JSON")

	for name, spoil := range map[string]func(m *childMsg){
		"past the end":    func(m *childMsg) { m.Blobs[2].N = 40 },
		"negative length": func(m *childMsg) { m.Blobs[0].N = -1 },
		"index range":     func(m *childMsg) { m.Blobs[0].I = 2 },
		"unknown keyword": func(m *childMsg) { m.Blobs[2].K = "other" },
		"bytes left over": func(m *childMsg) { m.blob = append(m.blob, 'x') },
		"unknown place":   func(m *childMsg) { m.Blobs[0].In = "elsewhere" },
	} {
		m := call()
		spoil(m)
		assert.ErrorIs(t, m.attachBlobs(), errProtocol, name)
	}
}
