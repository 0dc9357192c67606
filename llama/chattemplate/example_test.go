package chattemplate_test

import (
	"fmt"
	"log"

	"github.com/go-rlm/rlm/llama/chattemplate"
)

// Render a ChatML conversation; the content's template syntax stays text.
func ExampleTemplate_Render() {
	tmpl, err := chattemplate.Parse(`{%- for message in messages %}
{{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}
{%- endfor %}
{%- if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}`)
	if err != nil {
		log.Fatal(err)
	}
	out, err := tmpl.Render([]chattemplate.Message{{Role: "user", Content: "Roll {{ d20 }}"}}, true)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(out)
	// Output:
	// <|im_start|>user
	// Roll {{ d20 }}<|im_end|>
	// <|im_start|>assistant
}
