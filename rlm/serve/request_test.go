package serve

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// messages decodes a JSON array of messages, as a request body holds them.
func messages(t *testing.T, text string) []chatMessage {
	t.Helper()
	var msgs []chatMessage
	require.NoError(t, json.Unmarshal([]byte(text), &msgs))
	return msgs
}

func TestSplitConversation(t *testing.T) {
	fileData := "data:text/plain;base64," + base64.StdEncoding.EncodeToString([]byte("Laura: 17.\nSam: 20!"))
	tests := []struct {
		name, messages     string
		document, question string
	}{
		{"question alone", `[{"role":"user","content":"How many rolls?"}]`, "", "How many rolls?"},
		{"pasted document, then the question",
			`[{"role":"user","content":"Matt: Roll.\nLaura: 17."},{"role":"user","content":"Who rolled?"}]`,
			"Matt: Roll.\nLaura: 17.", "Who rolled?"},
		{"context in the system prompt",
			`[{"role":"system","content":"Transcript: Sam rolls 20."},{"role":"user","content":"What did Sam roll?"}]`,
			"Transcript: Sam rolls 20.", "What did Sam roll?"},
		{"a conversation that goes on",
			`[{"role":"system","content":"Be brief."},{"role":"user","content":"Matt: Roll."},` +
				`{"role":"assistant","content":"One roll."},{"role":"user","content":"By whom?"}]`,
			"[system]\nBe brief.\n\n[user]\nMatt: Roll.\n\n[assistant]\nOne roll.", "By whom?"},
		{"an attached file",
			`[{"role":"user","content":[{"type":"text","text":"Who rolled a 20?"},` +
				`{"type":"file","file":{"filename":"ep1.txt","file_data":"` + fileData + `"}}]}]`,
			"Laura: 17.\nSam: 20!", "Who rolled a 20?"},
		{"text parts and a file after a message",
			`[{"role":"user","content":[{"type":"text","text":"Matt: Roll."}]},` +
				`{"role":"user","content":[{"type":"text","text":"Who"},{"type":"text","text":"rolled?"},` +
				`{"type":"file","file":{"file_data":"` + fileData + `"}}]}]`,
			"[user]\nMatt: Roll.\n\n[file: attachment]\nLaura: 17.\nSam: 20!", "Who\nrolled?"},
		{"an assistant message without content",
			`[{"role":"user","content":"doc"},{"role":"assistant","content":null},{"role":"user","content":"q"}]`,
			"doc", "q"},
		{"a plain data URL",
			`[{"role":"user","content":[{"type":"text","text":"q"},{"type":"file","file":{"file_data":"data:text/plain,a%20b"}}]}]`,
			"a b", "q"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, q, err := splitConversation(messages(t, tt.messages))
			require.NoError(t, err)
			assert.Equal(t, tt.document, doc)
			assert.Equal(t, tt.question, q)
		})
	}
}

func TestSplitConversationErrors(t *testing.T) {
	pdf := "data:application/pdf;base64," + base64.StdEncoding.EncodeToString([]byte("%PDF-1.7\x00\xff"))
	tests := []struct{ name, messages, want string }{
		{"no message", `[]`, "messages: empty"},
		{"no user message", `[{"role":"system","content":"x"}]`, "no user message"},
		{"the question is not last", `[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]`,
			`the last message is from "assistant"`},
		{"empty question", `[{"role":"user","content":"doc"},{"role":"user","content":"  "}]`, "has no text"},
		{"a document pasted with the question", `[{"role":"user","content":"` + strings.Repeat("Sam rolls. ", 800) + `Who rolled?"}]`,
			"the question is 8811 characters, more than 8000"},
		{"an image", `[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]`,
			`parts of type "image_url" are not supported`},
		{"a binary file", `[{"role":"user","content":[{"type":"text","text":"q"},{"type":"file","file":{"filename":"a.pdf","file_data":"` + pdf + `"}}]}]`,
			`file "a.pdf": not UTF-8 text`},
		{"an uploaded file", `[{"role":"user","content":[{"type":"text","text":"q"},{"type":"file","file":{"file_id":"file-1"}}]}]`,
			"keeps no uploaded files"},
		{"bad base64", `[{"role":"user","content":[{"type":"text","text":"q"},{"type":"file","file":{"file_data":"data:text/plain;base64,@@"}}]}]`,
			"illegal base64"},
		{"content of the wrong type", `[{"role":"user","content":42}]`, "neither a string nor an array"},
		{"no role", `[{"content":"doc"},{"role":"user","content":"q"}]`, "messages[0]: no role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := splitConversation(messages(t, tt.messages))
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func TestLimitsFor(t *testing.T) {
	server := Limits{MaxIterations: 10, MaxSubCalls: 0, MaxWorkerTokens: 1000, TimeLimit: time.Minute}
	tests := []struct {
		name, rlm string
		want      Limits
		err       string
	}{
		{"none", ``, server, ""},
		{"null", `null`, server, ""},
		{"lower", `{"max_iterations":3,"max_sub_calls":50,"max_worker_tokens":10,"time_limit":1.5}`,
			Limits{MaxIterations: 3, MaxSubCalls: 50, MaxWorkerTokens: 10, TimeLimit: 1500 * time.Millisecond}, ""},
		{"higher is cut to the server's", `{"max_iterations":30,"max_worker_tokens":5000,"time_limit":3600}`, server, ""},
		{"a controller budget where the server has none", `{"max_controller_tokens":7}`,
			Limits{MaxIterations: 10, MaxControllerTokens: 7, MaxWorkerTokens: 1000, TimeLimit: time.Minute}, ""},
		{"a tiny time limit", `{"time_limit":1e-9}`,
			Limits{MaxIterations: 10, MaxWorkerTokens: 1000, TimeLimit: time.Millisecond}, ""},
		{"negative", `{"max_sub_calls":-1}`, server, "must not be negative"},
		{"misspelt", `{"max_subcalls":5}`, server, `unknown field "max_subcalls"`},
		{"not an object", `[1]`, server, "rlm:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := server.limitsFor(json.RawMessage(tt.rlm))
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	unlimited, err := Limits{}.limitsFor(json.RawMessage(`{"time_limit":1e300}`))
	require.NoError(t, err)
	assert.Equal(t, 365*24*time.Hour, unlimited.TimeLimit, "a huge time limit does not overflow")
}
