package serve_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/rlmtest"
	"github.com/go-rlm/rlm/rlm/serve"
)

// A scripted controller and worker served over HTTP: the first user
// message is the document, the last the question. Local models plug in the
// same way (see examples/serve).
func Example() {
	controller := rlmtest.Func(func(context.Context, int, []rlm.Message) (string, error) {
		return rlmtest.Code(`FINAL(sum(int(n) for n in sub_call(context.split("\n"), "How many rolls?")))`), nil
	})
	worker := rlmtest.Func(func(context.Context, int, []rlm.Message) (string, error) {
		return "1", nil // every line of this document reports one roll
	})
	srv, err := serve.New([]serve.Model{{Name: "rlm", Controller: controller, Worker: worker}},
		serve.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()

	resp, err := http.Post(ts.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{
		"model": "rlm",
		"messages": [
			{"role": "user", "content": "Laura: I roll a 17.\nSam: Natural 20!"},
			{"role": "user", "content": "How many dice rolls are there?"}
		]}`))
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var completion struct {
		ID      string
		Choices []struct {
			Message      struct{ Content string }
			FinishReason string `json:"finish_reason"`
		}
		RLM serve.RunInfo
	}
	if err := json.NewDecoder(resp.Body).Decode(&completion); err != nil {
		panic(err)
	}
	fmt.Println("answer:", completion.Choices[0].Message.Content, "finish:", completion.Choices[0].FinishReason)
	fmt.Println("sub-calls:", completion.RLM.SubCalls, "worker calls:", completion.RLM.Usage.Worker.Calls)
	fmt.Println(completion.RLM.Trajectory == "/v1/trajectories/"+completion.ID)
	// Output:
	// answer: 2 finish: stop
	// sub-calls: 2 worker calls: 2
	// true
}
