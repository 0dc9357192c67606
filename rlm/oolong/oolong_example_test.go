package oolong_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-rlm/rlm/rlm/oolong"
)

func ExampleScore() {
	fmt.Println(oolong.Score("42", `Adding the rolls of each episode gives \boxed{42}.`))
	fmt.Println(oolong.Score("42", `\boxed{40}`))
	fmt.Println(oolong.Score("Fire Bolt, Cure Wounds", `\boxed{\text{Cure Wounds, Shield}}`))
	fmt.Println(oolong.Score("Percy", `\boxed{ percy }`))
	fmt.Println(oolong.Score("42", "42")) // no box: the output is a string, the gold an integer
	// Output:
	// 1
	// 0.5625
	// 0.5
	// 1
	// 0
}

func ExampleGrade() {
	r := oolong.Grade("17", `So there were \boxed{１９} rolls.`)
	fmt.Println(r.Gold.Kind, r.Gold.Int, r.Predicted.Kind, r.Predicted.Int, r.Boxed, r.Score)
	// Output:
	// int 17 int 19 true 0.5625
}

func ExampleNewReader() {
	split := `{"id": "a", "context_window_id": "w1", "context_window_text": "[START OF EPISODE]\n...", "question": "Total number of rolls in this episode?", "answer": "12", "question_type": "singledoc_rolls", "episodes": [3], "campaign": "campaign1"}
{"id": "b", "context_window_id": "w1", "context_window_text": "[START OF EPISODE]\n...", "question": "How many spells were cast during this episode?", "answer": "4", "question_type": "singledoc_spells", "episodes": [3], "campaign": "campaign1"}
{"id": "c", "context_window_id": "w2", "context_window_text": "[START OF EPISODE]\n...\n\n[START OF EPISODE]\n...", "question": "Total number of rolls across all the episodes?", "answer": "31", "question_type": "multidoc_rolls", "episodes": [3, 9], "campaign": "campaign1"}
`
	r := oolong.NewReader(strings.NewReader(split),
		oolong.WithQuestionTypes(oolong.SingleDocRolls, oolong.MultiDocRolls))
	defer r.Close()
	for e, err := range r.All(context.Background()) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(e.ID, e.Episodes, e.Question, e.Answer)
	}
	stats := r.Stats()
	fmt.Println(stats.Rows, "rows read,", stats.Returned, "returned,", stats.Windows, "windows decoded")
	// Output:
	// a [3] Total number of rolls in this episode? 12
	// c [3 9] Total number of rolls across all the episodes? 31
	// 3 rows read, 2 returned, 2 windows decoded
}

// Building the context window of campaign 1's first three episodes from the
// transcripts, as the dataset does.
func ExampleCampaign_Window() {
	dir, err := oolong.TranscriptDir()
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := oolong.LoadCampaign(dir, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	w, err := c.Window(1, 2, 3)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(w.ID, len(w.Text), "bytes")
	e := w.Example("Total number of rolls across all the episodes?", "0", oolong.MultiDocRolls)
	fmt.Println(e.ID)
}
