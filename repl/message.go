package repl

import (
	"encoding/json"
	"errors"
	"fmt"
)

// childMsg is the header of any frame from the child. Which fields are set
// depends on Op:
//
//	hello  Version, Pid, Layers: the bootstrap is ready
//	call   ID, Name, Args, Kwargs, or Batch and Items: a host function call
//	reply  ID, and Value or Blob, or Error (Undefined for a missing name): answer to get/set
//	done   ID, Stdout... Restart: a cell finished
type childMsg struct {
	Op   string
	ID   int64
	Name string

	// Values, decoded by jsonDecoder: string, int64, float64, bool, nil,
	// []any, map[string]any.
	Args   []any
	Kwargs map[string]any
	Batch  bool
	Items  []any

	// Blobs lists the long string arguments that travel in the blob, in order.
	Blobs []blobRef

	Value     any
	Blob      bool
	Error     string
	Undefined bool

	Stdout     string
	StdoutCut  int64
	Stderr     string
	StderrCut  int64
	Exception  *Exception
	Changed    []string
	ChangedCut int64
	Restored   []string
	Threads    int64
	Restart    string

	Version string
	Pid     int64
	Layers  childReport

	blob []byte
	size int // of the frame, header and blob
	// tooLarge: the values would take more memory than the decoding budget
	// allows; only Op, ID and Name are set.
	tooLarge bool
}

// valueFields are the fields of a header that carry Python values.
var valueFields = []string{"args", "kwargs", "items", "value"}

// parseMessage decodes a header, values included, within the decoding
// budget of the frame (see decodeBudget). A header that is not what the
// bootstrap writes is a protocol error; one too large to decode wraps
// errTooLarge.
func parseMessage(f frame) (*childMsg, error) {
	v, err := decodeJSON(f.header, decodeBudget(len(f.header)))
	if errors.Is(err, errTooLarge) {
		// Read what says which call or request it is, so that it can be
		// answered with an error rather than end the process.
		h, err := decodeSkeleton(f.header, valueFields...)
		if err != nil {
			return nil, err
		}
		p := fields{h: h}
		m := &childMsg{Op: p.str("op"), ID: p.int("id"), Name: p.str("name"), tooLarge: true, size: len(f.header) + len(f.blob)}
		if p.err != nil {
			return nil, p.err
		}
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	h, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: header is not an object", errProtocol)
	}
	p := fields{h: h}
	m := &childMsg{
		Op: p.str("op"), ID: p.int("id"), Name: p.str("name"),
		Args: p.list("args"), Kwargs: p.object("kwargs"), Batch: p.bool("batch"), Items: p.list("items"),
		Value: h["value"], Blob: p.bool("blob"), Error: p.str("error"), Undefined: p.bool("undefined"),
		Stdout: p.str("stdout"), StdoutCut: p.int("stdout_cut"),
		Stderr: p.str("stderr"), StderrCut: p.int("stderr_cut"),
		Changed: p.strings("changed"), ChangedCut: p.int("changed_cut"), Restored: p.strings("restored"),
		Threads: p.int("threads"),
		Restart: p.str("restart"), Version: p.str("version"), Pid: p.int("pid"),
		blob: f.blob, size: len(f.header) + len(f.blob),
	}
	for _, b := range p.list("blobs") {
		ref := fields{h: asObject(b, &p.err)}
		m.Blobs = append(m.Blobs, blobRef{In: ref.str("in"), I: int(ref.int("i")), K: ref.str("k"), N: int(ref.int("n"))})
		p.take(ref.err)
	}
	if e := p.object("exception"); e != nil {
		x := fields{h: e}
		m.Exception = &Exception{Type: x.str("type"), Message: x.str("message"), Traceback: x.str("traceback")}
		p.take(x.err)
	}
	if l := p.object("layers"); l != nil {
		x := fields{h: l}
		m.Layers = childReport{Namespaces: x.bool("namespaces"), ScratchQuota: x.int("scratch_quota"),
			Capabilities: x.bool("capabilities"), NoNewPrivs: x.bool("no_new_privs"),
			Landlock: int(x.int("landlock")), Seccomp: x.bool("seccomp"), Errors: map[string]string{}}
		for k, v := range x.object("errors") {
			m.Layers.Errors[k] = asString(v, &x.err)
		}
		p.take(x.err)
	}
	if p.err != nil {
		return nil, p.err
	}
	if m.Op == "" {
		return nil, fmt.Errorf("%w: header without op", errProtocol)
	}
	return m, nil
}

// fields reads typed fields of a decoded object; the first field of the
// wrong type is the error. A missing field is its zero value.
type fields struct {
	h   map[string]any
	err error
}

func (p *fields) take(err error) {
	if p.err == nil {
		p.err = err
	}
}

func (p *fields) wrong(key string, v any) {
	p.take(fmt.Errorf("%w: field %q is a %T", errProtocol, key, v))
}

func (p *fields) str(key string) string {
	v, ok := p.h[key]
	if !ok || v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		p.wrong(key, v)
	}
	return s
}

func (p *fields) int(key string) int64 {
	v, ok := p.h[key]
	if !ok || v == nil {
		return 0
	}
	n, ok := v.(int64)
	if !ok {
		p.wrong(key, v)
	}
	return n
}

func (p *fields) bool(key string) bool {
	v, ok := p.h[key]
	if !ok || v == nil {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		p.wrong(key, v)
	}
	return b
}

func (p *fields) list(key string) []any {
	v, ok := p.h[key]
	if !ok || v == nil {
		return nil
	}
	l, ok := v.([]any)
	if !ok {
		p.wrong(key, v)
	}
	return l
}

func (p *fields) object(key string) map[string]any {
	v, ok := p.h[key]
	if !ok || v == nil {
		return nil
	}
	return asObject(v, &p.err)
}

func (p *fields) strings(key string) []string {
	l := p.list(key)
	if l == nil {
		return nil
	}
	out := make([]string, len(l))
	for i, v := range l {
		out[i] = asString(v, &p.err)
	}
	return out
}

func asObject(v any, err *error) map[string]any {
	m, ok := v.(map[string]any)
	if !ok && *err == nil {
		*err = fmt.Errorf("%w: expected an object, got %T", errProtocol, v)
	}
	return m
}

func asString(v any, err *error) string {
	s, ok := v.(string)
	if !ok && *err == nil {
		*err = fmt.Errorf("%w: expected a string, got %T", errProtocol, v)
	}
	return s
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
		s := blobString(m.blob[off : off+ref.N])
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
