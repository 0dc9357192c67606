package repl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// childMsg is the header of any frame from the child. Which fields are set
// depends on Op:
//
//	hello  Version, Pid: the bootstrap is ready
//	call   ID, Name, Args, Kwargs, or Batch and Items: a host function call
//	reply  ID, and Value or Blob, or Error (Undefined for a missing name): answer to get/set
//	done   ID, Stdout... Restart: a cell finished
type childMsg struct {
	Op   string `json:"op"`
	ID   int64  `json:"id"`
	Name string `json:"name"`

	// Values arrive with json.Number for numbers; see fromJSON.
	Args   []any          `json:"args"`
	Kwargs map[string]any `json:"kwargs"`
	Batch  bool           `json:"batch"`
	Items  []any          `json:"items"`

	// Blobs lists the long string arguments that travel in the blob, in order.
	Blobs []blobRef `json:"blobs"`

	Value     any    `json:"value"`
	Blob      bool   `json:"blob"`
	Error     string `json:"error"`
	Undefined bool   `json:"undefined"`

	Stdout    string     `json:"stdout"`
	StdoutCut int64      `json:"stdout_cut"`
	Stderr    string     `json:"stderr"`
	StderrCut int64      `json:"stderr_cut"`
	Exception *Exception `json:"exception"`
	Changed   []string   `json:"changed"`
	Restored  []string   `json:"restored"`
	Restart   string     `json:"restart"`

	Version string      `json:"version"`
	Pid     int         `json:"pid"`
	Layers  childReport `json:"layers"`

	blob []byte
}

// parseMessage decodes a header in one pass, values included.
func parseMessage(f frame) (*childMsg, error) {
	var m childMsg
	dec := json.NewDecoder(bytes.NewReader(f.header))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %w", errProtocol, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the header", errProtocol)
	}
	if m.Op == "" {
		return nil, fmt.Errorf("%w: header without op", errProtocol)
	}
	m.blob = f.blob
	return &m, nil
}

// blobRef places one string of a call's blob: argument I of "args" or
// "items", or keyword argument K, N bytes long.
type blobRef struct {
	In string `json:"in"`
	I  int    `json:"i"`
	K  string `json:"k"`
	N  int    `json:"n"`
}

// attachBlobs puts the strings that travelled in the blob of a call back
// where Python took them from.
func (m *childMsg) attachBlobs() error {
	off := 0
	for _, ref := range m.Blobs {
		if ref.N < 0 || ref.N > len(m.blob)-off {
			return fmt.Errorf("%w: blob reference past the end", errProtocol)
		}
		s := string(m.blob[off : off+ref.N])
		if !utf8.ValidString(s) {
			s = strings.ToValidUTF8(s, string(utf8.RuneError))
		}
		off += ref.N
		var seq []any
		switch ref.In {
		case "args":
			seq = m.Args
		case "items":
			seq = m.Items
		case "kwargs":
			if _, ok := m.Kwargs[ref.K]; !ok {
				return fmt.Errorf("%w: blob for unknown keyword %q", errProtocol, ref.K)
			}
			m.Kwargs[ref.K] = s
			continue
		}
		if ref.I < 0 || ref.I >= len(seq) {
			return fmt.Errorf("%w: blob for %s[%d] out of range", errProtocol, ref.In, ref.I)
		}
		seq[ref.I] = s
	}
	if off != len(m.blob) {
		return fmt.Errorf("%w: %d bytes of blob unaccounted for", errProtocol, len(m.blob)-off)
	}
	return nil
}

// Frames to the child. Control fields go through encoding/json; values are
// spliced in as written by appendValue (see value.go).

type execHeader struct {
	Op      string `json:"op"`
	ID      int64  `json:"id"`
	Code    string `json:"code,omitempty"`
	Protect bool   `json:"protect,omitempty"`
}

func execFrame(id int64, code string, protect bool) outFrame {
	return outFrame{header: mustMarshal(execHeader{Op: "exec", ID: id, Code: code, Protect: protect})}
}

// interruptFrame tells the child that cell id is interrupted; see
// Interpreter.interrupt in bootstrap.py.
func interruptFrame(id int64) outFrame {
	return outFrame{header: mustMarshal(execHeader{Op: "interrupt", ID: id})}
}

type nameHeader struct {
	Op    string `json:"op"`
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Alias string `json:"alias,omitempty"`
	Blob  bool   `json:"blob,omitempty"`
}

func getFrame(id int64, name string) outFrame {
	return outFrame{header: mustMarshal(nameHeader{Op: "get", ID: id, Name: name})}
}

// setFrame binds b; alias names an already bound string equal to b's, which
// Python then shares instead of receiving a second copy.
func setFrame(id int64, b binding, alias string) outFrame {
	h := nameHeader{Op: "set", ID: id, Name: b.name}
	switch {
	case b.isText && alias != "":
		h.Alias = alias
		return outFrame{header: mustMarshal(h)}
	case b.isText:
		h.Blob = true
		return outFrame{header: mustMarshal(h), blob: b.text}
	}
	return outFrame{header: spliceValue(mustMarshal(h), b.json)}
}

type retHeader struct {
	Op    string  `json:"op"`
	ID    int64   `json:"id"`
	Error *string `json:"error,omitempty"`
}

// retFrame answers host call id with value v, or with the error text if v
// cannot be sent.
func retFrame(id int64, v any, limit int) outFrame {
	raw, err := appendValue(nil, v)
	if err == nil && len(raw) > limit-64 {
		err = fmt.Errorf("repl: result of %d bytes exceeds the message limit of %d", len(raw), limit)
	}
	if err != nil {
		return retErrorFrame(id, err.Error())
	}
	return outFrame{header: spliceValue(mustMarshal(retHeader{Op: "ret", ID: id}), raw)}
}

func retErrorFrame(id int64, text string) outFrame {
	return outFrame{header: mustMarshal(retHeader{Op: "ret", ID: id, Error: &text})}
}

// spliceValue appends "value": raw to the JSON object header.
func spliceValue(header, raw []byte) []byte {
	out := make([]byte, 0, len(header)+len(raw)+10)
	out = append(out, header[:len(header)-1]...)
	out = append(out, `,"value":`...)
	out = append(out, raw...)
	return append(out, '}')
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("repl: marshal " + fmt.Sprintf("%T", v) + ": " + err.Error()) // only fixed header types
	}
	return b
}
