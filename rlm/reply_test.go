package rlm

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseReplyBlocks(t *testing.T) {
	tests := []struct {
		name   string
		reply  string
		blocks []string
	}{
		{"none", "Let me think about it.", nil},
		{"repl", "Look first.\n```repl\nprint(len(context))\n```\n", []string{"print(len(context))"}},
		{"python and py", "```python\na = 1\n```\ntext\n```py\nb = 2\n```", []string{"a = 1", "b = 2"}},
		{"info string case and extra words", "```Python title=x\nprint(1)\n```", []string{"print(1)"}},
		{"other languages do not run", "```text\nprint(1)\n```\n```bash\nls\n```", nil},
		{"no language tag runs", "Here:\n```\nx = 1\n```", []string{"x = 1"}},
		{"py3 runs", "```py3\ny = 2\n```", []string{"y = 2"}},
		{"multi-line keeps indentation", "```repl\nfor i in range(2):\n    print(i)\n```",
			[]string{"for i in range(2):\n    print(i)"}},
		{"indented fence is dedented", "1. step\n   ```repl\n   x = 1\n   if x:\n       print(x)\n   ```",
			[]string{"x = 1\nif x:\n    print(x)"}},
		{"unclosed fence runs to the end", "```repl\nprint('cut off", []string{"print('cut off"}},
		{"longer closing fence", "````repl\nprint('```')\n````", []string{"print('```')"}},
		{"inline triple backticks are not a fence", "use ```repl``` blocks", nil},
		{"empty block", "```repl\n```", []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.blocks, parseReply(tt.reply).blocks)
		})
	}
}

func TestParseReplyFinal(t *testing.T) {
	tests := []struct {
		name     string
		reply    string
		final    bool
		variable bool
		value    string
	}{
		{"none", "No answer yet.", false, false, ""},
		{"plain", "I am done.\nFINAL(42)", true, false, "42"},
		{"indented", "  FINAL(Vex and Percy)", true, false, "Vex and Percy"},
		{"nested parentheses stay", "FINAL(3 (three) dice)", true, false, "3 (three) dice"},
		{"text after the call is not the answer", "FINAL(7) is my answer (I think)", true, false, "7"},
		{"double-quoted", `FINAL("The answer is 5")`, true, false, "The answer is 5"},
		{"quoted with a parenthesis inside", `FINAL("a) b")`, true, false, "a) b"},
		{"single-quoted with escape", `FINAL('it\'s 3')`, true, false, "it's 3"},
		{"triple-quoted multi-line", "FINAL(\"\"\"line one\nline two\"\"\")", true, false, "line one\nline two"},
		{"multi-line unquoted", "FINAL(first\nsecond)", true, false, "first\nsecond"},
		{"first balanced parenthesis ends it", "FINAL(a :) b)", true, false, "a :"},
		{"unbalanced takes the last parenthesis", "FINAL(x (y) z\nw", true, false, "x (y"},
		{"unclosed takes the line", "FINAL(9\nmore text", true, false, "9"},
		{"variable", "FINAL_VAR(result)", true, true, "result"},
		{"quoted variable", `FINAL_VAR("result")`, true, true, "result"},
		{"mid-sentence does not count", "When done I will call FINAL(x) with it.", false, false, ""},
		{"inside code does not count as text", "```repl\nFINAL(1)\n```", false, false, ""},
		{"inside another fence does not count", "```text\nFINAL(1)\n```", false, false, ""},
		{"first one wins", "FINAL(1)\nFINAL(2)", true, false, "1"},
		{"after code", "```repl\nx = 1\n```\nFINAL_VAR(x)", true, true, "x"},
		{"bold", "Done.\n**FINAL(42)**", true, false, "42"},
		{"bold quoted", `**FINAL("Vex and Percy")**`, true, false, "Vex and Percy"},
		{"italic variable", "_FINAL_VAR(total)_", true, true, "total"},
		{"inline code", "`FINAL(7)`", true, false, "7"},
		{"bold label before it does not count", "**Answer:** FINAL(7)", false, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parseReply(tt.reply).final
			if !tt.final {
				assert.Nil(t, f)
				return
			}
			if assert.NotNil(t, f) {
				assert.Equal(t, tt.variable, f.variable)
				assert.Equal(t, tt.value, f.value)
			}
		})
	}
}

func TestReplySegments(t *testing.T) {
	segs := replySegments("Plan.\n```repl\nprint(1)\n```\nThen:\n```text\nraw\n```")
	assert.Equal(t, []replySegment{
		{Text: "Plan."},
		{Code: true, Lang: "repl", Text: "print(1)"},
		{Text: "Then:"},
		{Code: true, Lang: "text", Text: "raw"},
	}, segs)
}
