package serve

import (
	"encoding/json"
	"net/http"
	"time"
)

// sse writes a Chat Completions stream: Server-Sent Events whose data are
// chunks, ended by "data: [DONE]". After a write fails (the client left)
// it writes nothing more.
type sse struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	base    chatCompletion
	failed  bool
	written time.Time
}

// startStream sends the response's headers and the first chunk, which
// names the role, as OpenAI's server does.
func startStream(w http.ResponseWriter, base chatCompletion) *sse {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx would hold events back
	w.WriteHeader(http.StatusOK)
	base.Object = "chat.completion.chunk"
	s := &sse{w: w, rc: http.NewResponseController(w), base: base}
	s.delta(&assistantText{Role: "assistant", Content: ptr("")}, nil, nil)
	return s
}

// delta sends a chunk whose one choice holds delta; finish and info are set
// on the last one.
func (s *sse) delta(delta *assistantText, finish *string, info any) {
	c := s.base
	c.Choices = []choice{{Delta: delta, FinishReason: finish}}
	c.RLM = info
	s.data(c)
}

// progress sends a chunk with an empty delta and p in its "rlm" object.
func (s *sse) progress(p Progress) { s.delta(&assistantText{}, nil, p) }

// usage sends the chunk with no choice that carries the usage, as a client
// asks with stream_options.include_usage.
func (s *sse) usage(u usage) {
	c := s.base
	c.Choices = []choice{}
	c.Usage = &u
	s.data(c)
}

// fail sends an error event, which the official clients raise as an API
// error, and ends the stream without [DONE].
func (s *sse) fail(typ, code, msg string) {
	s.data(errorBody{Error: apiError{Message: msg, Type: typ, Code: code}})
}

// done ends the stream.
func (s *sse) done() { s.write("data: [DONE]\n\n") }

// comment sends an SSE comment, which clients ignore, to keep the
// connection alive.
func (s *sse) comment(text string) { s.write(": " + text + "\n\n") }

func (s *sse) data(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Our own types always marshal; say so rather than write half.
		panic("serve: marshal chunk: " + err.Error())
	}
	s.write("data: " + string(b) + "\n\n")
}

func (s *sse) write(text string) {
	if s.failed {
		return
	}
	if _, err := s.w.Write([]byte(text)); err != nil {
		s.failed = true
		return
	}
	if err := s.rc.Flush(); err != nil {
		s.failed = true
	}
	s.written = time.Now()
}
