package oolong

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// jsonlSource reads rows from JSON Lines. It holds one line at a time (its
// buffer grows to the longest line and is reused), plus a copy of the raw
// text of the last context window it decoded, to recognise the next row's
// window as the same without decoding it.
type jsonlSource struct {
	r      *bufio.Reader
	closer io.Closer
	line   []byte
	lineNo int
	bytes  int64

	rawText  []byte // the current row's context_window_text value, quotes included
	prevRaw  []byte // the raw value prevText was decoded from
	prevText string
	decoded  bool // prevText holds a decoded text
}

func newJSONLSource(r io.Reader, closer io.Closer) *jsonlSource {
	return &jsonlSource{r: bufio.NewReaderSize(r, 1<<20), closer: closer}
}

func (s *jsonlSource) next(ctx context.Context, e *Example) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.readLine(); err != nil {
			return err
		}
		if len(bytes.TrimSpace(s.line)) == 0 {
			continue
		}
		*e = Example{}
		s.rawText = nil
		if err := scanObject(s.line, s.member(e)); err != nil {
			return fmt.Errorf("line %d: %w", s.lineNo, err)
		}
		return nil
	}
}

// readLine reads the next line into s.line, without its newline.
func (s *jsonlSource) readLine() error {
	s.line = s.line[:0]
	for {
		chunk, err := s.r.ReadSlice('\n')
		s.line = append(s.line, chunk...)
		s.bytes += int64(len(chunk))
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(s.line) > 0:
			s.lineNo++
			return nil
		case err != nil:
			return err
		}
		s.lineNo++
		s.line = s.line[:len(s.line)-1]
		return nil
	}
}

// member decodes the fields of a row other than its context window text,
// which it only locates. Unknown fields are skipped. Identifiers and answers
// written as JSON numbers are kept as their literal text.
func (s *jsonlSource) member(e *Example) func(key, value []byte) error {
	return func(key, value []byte) error {
		var err error
		switch string(key) {
		case "context_window_text":
			s.rawText = value
		case "id":
			e.ID, err = scalarText(value)
		case "context_window_id":
			e.ContextWindowID, err = scalarText(value)
		case "question":
			e.Question, err = scalarText(value)
		case "answer":
			e.Answer, err = scalarText(value)
		case "question_type":
			var t string
			t, err = scalarText(value)
			e.QuestionType = QuestionType(t)
		case "campaign":
			e.Campaign, err = scalarText(value)
		case "episodes":
			err = json.Unmarshal(value, &e.Episodes)
		}
		if err != nil && !errors.Is(err, ErrFormat) {
			err = fmt.Errorf("%w: %w", err, ErrFormat)
		}
		if err != nil {
			return fmt.Errorf("field %q: %w", key, err)
		}
		return nil
	}
}

// scalarText decodes a string value, or returns a number's literal text.
func scalarText(value []byte) (string, error) {
	if len(value) > 0 && value[0] == '"' {
		return decodeString(value)
	}
	if bytes.Equal(value, []byte("null")) {
		return "", nil
	}
	return string(value), nil
}

func (s *jsonlSource) text() (string, bool, error) {
	if s.rawText == nil || bytes.Equal(s.rawText, []byte("null")) {
		return "", false, nil
	}
	if s.decoded && bytes.Equal(s.rawText, s.prevRaw) {
		return s.prevText, true, nil
	}
	text, err := decodeString(s.rawText)
	if err != nil {
		return "", false, fmt.Errorf("line %d: field \"context_window_text\": %w", s.lineNo, err)
	}
	s.prevRaw = append(s.prevRaw[:0], s.rawText...)
	s.prevText, s.decoded = text, true
	return text, false, nil
}

func (s *jsonlSource) bytesRead() int64 { return s.bytes }

func (s *jsonlSource) close() error {
	if s.closer == nil {
		return nil
	}
	return s.closer.Close()
}
