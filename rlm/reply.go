package rlm

import (
	"regexp"
	"strings"
)

// A controller reply is Markdown: prose, fenced code blocks to run, and
// perhaps a FINAL(...) or FINAL_VAR(...) written as text. This file takes it
// apart.

// codeLanguages are the fence info strings whose blocks run in the REPL. A
// fence with no info string runs too: models often leave it out.
var codeLanguages = map[string]bool{"": true, "repl": true, "python": true, "py": true, "python3": true, "py3": true}

// parsedReply is what a controller reply asks for.
type parsedReply struct {
	// blocks are the code blocks to run, in order.
	blocks []string
	// final is a FINAL or FINAL_VAR written as text outside any fence; nil
	// when there is none.
	final *textFinal
}

// textFinal is a final answer written as text.
type textFinal struct {
	// variable reports FINAL_VAR: value is then a variable name.
	variable bool
	value    string
}

func parseReply(reply string) parsedReply {
	blocks, prose := splitFences(reply)
	return parsedReply{blocks: blocks, final: findTextFinal(prose)}
}

// splitFences returns the code of the fenced blocks in a runnable language
// and the reply's prose with every fenced block (runnable or not) blanked
// out, line for line. An unclosed fence runs to the end of the reply, as a
// reply cut off by a length limit would leave it.
func splitFences(reply string) (blocks []string, prose string) {
	lines := strings.Split(reply, "\n")
	var proseLines []string
	for i := 0; i < len(lines); i++ {
		indent, ticks, info, ok := openingFence(lines[i])
		if !ok {
			proseLines = append(proseLines, lines[i])
			continue
		}
		proseLines = append(proseLines, "")
		var code []string
		for i++; i < len(lines); i++ {
			if closesFence(lines[i], ticks) {
				break
			}
			code = append(code, stripIndent(lines[i], indent))
			proseLines = append(proseLines, "")
		}
		if i < len(lines) {
			proseLines = append(proseLines, "")
		}
		if codeLanguages[strings.ToLower(info)] {
			blocks = append(blocks, strings.Join(code, "\n"))
		}
	}
	return blocks, strings.Join(proseLines, "\n")
}

// openingFence recognises a line that opens a backtick fence, returning its
// indentation, the number of backticks and the first word of its info
// string.
func openingFence(line string) (indent, ticks int, info string, ok bool) {
	trimmed := strings.TrimLeft(line, " \t")
	indent = len(line) - len(trimmed)
	for ticks < len(trimmed) && trimmed[ticks] == '`' {
		ticks++
	}
	if ticks < 3 {
		return 0, 0, "", false
	}
	rest := trimmed[ticks:]
	if strings.Contains(rest, "`") {
		return 0, 0, "", false // inline code such as ```x```, not a fence
	}
	if fields := strings.Fields(rest); len(fields) > 0 {
		info = fields[0]
	}
	return indent, ticks, info, true
}

// closesFence reports whether line closes a fence opened with ticks
// backticks.
func closesFence(line string, ticks int) bool {
	trimmed := strings.TrimSpace(line)
	return len(trimmed) >= ticks && strings.Trim(trimmed, "`") == ""
}

// stripIndent removes up to n leading spaces or tabs, the indentation of an
// indented fence.
func stripIndent(line string, n int) string {
	i := 0
	for i < n && i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	return line[i:]
}

// finalCall finds FINAL( or FINAL_VAR( at the start of a line, after
// Markdown emphasis or inline-code marks if any (**FINAL(x)**, `FINAL(x)`).
var finalCall = regexp.MustCompile("(?m)^[ \t]*(?:[*_`]+[ \t]*)?(FINAL_VAR|FINAL)\\(")

// findTextFinal returns the first FINAL(...) or FINAL_VAR(...) that starts a
// line of prose. Its argument runs to the matching parenthesis, so that an
// answer with parentheses of its own stays whole; a quoted argument loses
// its quotes.
func findTextFinal(prose string) *textFinal {
	loc := finalCall.FindStringSubmatchIndex(prose)
	if loc == nil {
		return nil
	}
	variable := prose[loc[2]:loc[3]] == "FINAL_VAR"
	arg := finalArgument(prose[loc[1]:])
	if variable {
		arg = strings.Trim(arg, `"' `)
	}
	return &textFinal{variable: variable, value: arg}
}

// finalArgument returns the argument of a call whose opening parenthesis
// has just been read.
func finalArgument(rest string) string {
	if arg, ok := quotedArgument(rest); ok {
		return arg
	}
	depth := 1
	for i, r := range rest {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return strings.TrimSpace(rest[:i])
			}
		}
	}
	// Unbalanced: the answer itself has a stray parenthesis. The last ')'
	// is the best guess for the end; failing that, the line ends it.
	if end := strings.LastIndex(rest, ")"); end >= 0 {
		return strings.TrimSpace(rest[:end])
	}
	if end := strings.IndexByte(rest, '\n'); end >= 0 {
		return strings.TrimSpace(rest[:end])
	}
	return strings.TrimSpace(rest)
}

// quotedArgument reads an argument that is one Python string literal
// followed by the closing parenthesis, and returns the literal's text.
func quotedArgument(rest string) (string, bool) {
	s := strings.TrimLeft(rest, " \t\n")
	for _, quote := range []string{`"""`, `'''`, `"`, `'`} {
		if !strings.HasPrefix(s, quote) {
			continue
		}
		body := s[len(quote):]
		end := closingQuote(body, quote)
		if end < 0 {
			return "", false
		}
		after := strings.TrimLeft(body[end+len(quote):], " \t\n")
		if !strings.HasPrefix(after, ")") {
			return "", false
		}
		text := body[:end]
		if len(quote) == 1 {
			text = strings.NewReplacer(`\\`, `\`, `\`+quote, quote, `\n`, "\n").Replace(text)
		}
		return strings.TrimSpace(text), true
	}
	return "", false
}

// closingQuote finds the closing quote of a string literal body, skipping
// backslash escapes; -1 when there is none.
func closingQuote(body, quote string) int {
	for i := 0; i < len(body); i++ {
		if body[i] == '\\' {
			i++
			continue
		}
		if strings.HasPrefix(body[i:], quote) {
			return i
		}
	}
	return -1
}
