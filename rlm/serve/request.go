package serve

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// chatRequest is the body of POST /v1/chat/completions: the fields this
// server reads. Others (temperature, max_tokens, user, ...) are accepted
// and ignored: sampling belongs to the models the server was configured
// with, not to the request.
type chatRequest struct {
	Model         string          `json:"model"`
	Messages      []chatMessage   `json:"messages"`
	Stream        bool            `json:"stream"`
	StreamOptions *streamOptions  `json:"stream_options"`
	N             *int            `json:"n"`
	Tools         []any           `json:"tools"`
	RLM           json.RawMessage `json:"rlm"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// chatMessage is one message of a request. Content is a string, an array
// of content parts, or null.
type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// contentPart is one element of a message's content array: "text", or
// "file" with the file's bytes inline as a data URL.
type contentPart struct {
	Type string `json:"type"`
	Text string `json:"text"`
	File *struct {
		FileData string `json:"file_data"`
		FileID   string `json:"file_id"`
		Filename string `json:"filename"`
	} `json:"file"`
}

// RequestOptions is the "rlm" extension object a request may carry to
// lower the server's limits for itself. Zero fields leave a limit as the
// server set it; a value above the server's limit is cut to it. OpenAI's
// Python client sends it with extra_body={"rlm": {...}}; the Node client
// passes unknown fields of its argument through as they are.
type RequestOptions struct {
	// MaxIterations caps the controller's replies.
	MaxIterations int `json:"max_iterations,omitempty"`
	// MaxSubCalls caps the worker calls and child RLMs.
	MaxSubCalls int `json:"max_sub_calls,omitempty"`
	// MaxControllerTokens and MaxWorkerTokens cap each model's tokens,
	// prompt and completion together.
	MaxControllerTokens int `json:"max_controller_tokens,omitempty"`
	MaxWorkerTokens     int `json:"max_worker_tokens,omitempty"`
	// TimeLimit caps the run's wall time, in seconds; the time spent
	// waiting in the queue does not count.
	TimeLimit float64 `json:"time_limit,omitempty"`
}

// limitsFor returns the limits a request runs under: the server's, lowered
// where the request asks for less.
func (l Limits) limitsFor(raw json.RawMessage) (Limits, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return l, nil
	}
	var o RequestOptions
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields() // a misspelt budget must not pass unnoticed
	if err := dec.Decode(&o); err != nil {
		return l, fmt.Errorf("rlm: %w", err)
	}
	if o.MaxIterations < 0 || o.MaxSubCalls < 0 || o.MaxControllerTokens < 0 || o.MaxWorkerTokens < 0 || o.TimeLimit < 0 {
		return l, errors.New("rlm: limits must not be negative")
	}
	l.MaxIterations = lower(l.MaxIterations, o.MaxIterations)
	l.MaxSubCalls = lower(l.MaxSubCalls, o.MaxSubCalls)
	l.MaxControllerTokens = lower(l.MaxControllerTokens, o.MaxControllerTokens)
	l.MaxWorkerTokens = lower(l.MaxWorkerTokens, o.MaxWorkerTokens)
	if o.TimeLimit > 0 {
		// Beyond a year the request asks for no limit it could reach.
		asked := time.Duration(min(o.TimeLimit, 365*24*3600) * float64(time.Second))
		l.TimeLimit = lower(l.TimeLimit, max(asked, time.Millisecond))
	}
	return l, nil
}

// lower returns the smaller of a limit and a request's value, where 0
// means none.
func lower[T ~int | ~int64](limit, asked T) T {
	switch {
	case asked == 0:
		return limit
	case limit == 0:
		return asked
	}
	return min(limit, asked)
}

// conversationError is a request whose messages do not make a document and
// a question.
type conversationError struct{ msg string }

func (e *conversationError) Error() string { return e.msg }

func badConversation(format string, args ...any) error {
	return &conversationError{msg: fmt.Sprintf(format, args...)}
}

// maxQuestionChars caps the question. The controller reads the question
// whole, in its first message, so a document pasted into the same message
// as the question would flood its context; such a request is refused with
// advice rather than failing deep in the run.
const maxQuestionChars = 8000

// piece is one part of the document: a message's text or an attached file.
type piece struct {
	label string
	text  string
}

// splitConversation turns a request's messages into the document and the
// question an RLM runs on. The question is the text of the last user
// message. The document is everything before it, in order, and the files
// attached to it: one such piece verbatim, several as a transcript in
// which each piece starts with a line naming its role or file ("[user]",
// "[file: notes.txt]"). Nothing the client sent is dropped.
func splitConversation(messages []chatMessage) (document, question string, err error) {
	if len(messages) == 0 {
		return "", "", badConversation("messages: empty: send the question as the last user message")
	}
	last := -1
	for i, m := range messages {
		if m.Role == "user" {
			last = i
		}
	}
	if last < 0 {
		return "", "", badConversation("messages: no user message: the last user message is the question")
	}
	if last != len(messages)-1 {
		return "", "", badConversation("messages: the last message is from %q: the question must come last, from the user",
			messages[len(messages)-1].Role)
	}
	var pieces []piece
	for i, m := range messages[:last] {
		text, files, err := messageContent(m.Content)
		if err != nil {
			return "", "", badConversation("messages[%d]: %v", i, err)
		}
		if m.Role == "" {
			return "", "", badConversation("messages[%d]: no role", i)
		}
		if text != "" {
			pieces = append(pieces, piece{label: m.Role, text: text})
		}
		pieces = append(pieces, files...)
	}
	question, files, err := messageContent(messages[last].Content)
	if err != nil {
		return "", "", badConversation("messages[%d]: %v", last, err)
	}
	if strings.TrimSpace(question) == "" {
		return "", "", badConversation("messages[%d]: the last user message, the question, has no text", last)
	}
	if n := utf8.RuneCountInString(question); n > maxQuestionChars {
		return "", "", badConversation("messages[%d]: the question is %d characters, more than %d: "+
			"the controller reads the question whole, so send the document in an earlier message "+
			"(or as a file) and the question alone last", last, n, maxQuestionChars)
	}
	pieces = append(pieces, files...)
	return joinPieces(pieces), question, nil
}

// joinPieces writes the document: a lone piece as it is, several under
// their labels, separated by blank lines.
func joinPieces(pieces []piece) string {
	if len(pieces) == 1 {
		return pieces[0].text
	}
	var b strings.Builder
	for i, p := range pieces {
		if i > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString("[" + p.label + "]\n")
		b.WriteString(p.text)
	}
	return b.String()
}

// messageContent reads a message's content: its text (text parts joined by
// newlines) and its attached files.
func messageContent(raw json.RawMessage) (text string, files []piece, err error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil, nil
	}
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &text); err != nil {
			return "", nil, fmt.Errorf("content: %w", err)
		}
		return text, nil, nil
	}
	var parts []contentPart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", nil, errors.New("content: neither a string nor an array of content parts")
	}
	var texts []string
	for j, p := range parts {
		switch p.Type {
		case "text":
			texts = append(texts, p.Text)
		case "file":
			f, err := filePiece(p)
			if err != nil {
				return "", nil, fmt.Errorf("content[%d]: %w", j, err)
			}
			files = append(files, f)
		default:
			return "", nil, fmt.Errorf("content[%d]: parts of type %q are not supported: send text, or text files as \"file\" parts", j, p.Type)
		}
	}
	return strings.Join(texts, "\n"), files, nil
}

// filePiece decodes a file sent inline ("file_data", a base64 data URL) as
// a piece of the document. Only text files are documents.
func filePiece(p contentPart) (piece, error) {
	if p.File == nil || p.File.FileData == "" {
		if p.File != nil && p.File.FileID != "" {
			return piece{}, errors.New("file: this server keeps no uploaded files: send the file's content inline in file_data")
		}
		return piece{}, errors.New("file: no file_data")
	}
	data, err := decodeDataURL(p.File.FileData)
	if err != nil {
		return piece{}, fmt.Errorf("file %q: %w", p.File.Filename, err)
	}
	if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
		return piece{}, fmt.Errorf("file %q: not UTF-8 text: only text documents can be read", p.File.Filename)
	}
	name := p.File.Filename
	if name == "" {
		name = "attachment"
	}
	return piece{label: "file: " + name, text: string(data)}, nil
}

// decodeDataURL returns the bytes of a data URL ("data:text/plain;base64,...").
// Plain base64 without the prefix is accepted too, as some clients send it.
func decodeDataURL(s string) ([]byte, error) {
	if !strings.HasPrefix(s, "data:") {
		return base64.StdEncoding.DecodeString(s)
	}
	meta, payload, ok := strings.Cut(s[len("data:"):], ",")
	if !ok {
		return nil, errors.New("malformed data URL")
	}
	if strings.HasSuffix(meta, ";base64") {
		data, err := base64.StdEncoding.DecodeString(payload)
		if err != nil {
			return nil, fmt.Errorf("data URL: %w", err)
		}
		return data, nil
	}
	text, err := url.PathUnescape(payload)
	if err != nil {
		return nil, fmt.Errorf("data URL: %w", err)
	}
	return []byte(text), nil
}
