package openai_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/openai"
)

// A client for a local OpenAI-compatible server, such as llama.cpp's
// llama-server; here a loopback stand-in answers.
func ExampleNew() {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"choices":[{"message":{"role":"assistant","content":"Hello!"}}],`+
			`"usage":{"prompt_tokens":9,"completion_tokens":2}}`)
	}))
	defer server.Close()

	client, err := openai.New("qwen2.5-7b-instruct",
		openai.WithBaseURL(server.URL+"/v1"),
		openai.WithTemperature(0),
	)
	if err != nil {
		panic(err)
	}
	c, err := client.Complete(context.Background(), []rlm.Message{{Role: rlm.RoleUser, Content: "Say hello."}})
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Text, c.PromptTokens, c.CompletionTokens)
	// Output:
	// Hello! 9 2
}
