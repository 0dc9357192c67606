package repl

import (
	"errors"
	"fmt"
)

// ErrNoPython is returned by [Start] (and by an Exec that must restart the
// process) when the interpreter is missing, is not CPython 3.8 or newer, or
// cannot be executed.
var ErrNoPython = errors.New("repl: no usable Python interpreter (CPython 3.8 or newer)")

// ErrUndefined is returned by [REPL.Get] for a name Python does not define.
var ErrUndefined = errors.New("repl: name is not defined")

// pythonKeywords cannot be variable names.
var pythonKeywords = map[string]bool{
	"False": true, "None": true, "True": true, "and": true, "as": true, "assert": true,
	"async": true, "await": true, "break": true, "class": true, "continue": true,
	"def": true, "del": true, "elif": true, "else": true, "except": true,
	"finally": true, "for": true, "from": true, "global": true, "if": true,
	"import": true, "in": true, "is": true, "lambda": true, "nonlocal": true,
	"not": true, "or": true, "pass": true, "raise": true, "return": true, "try": true,
	"while": true, "with": true, "yield": true,
}

// checkName accepts ASCII Python identifiers that are not keywords and do not
// start with two underscores (those belong to Python itself).
func checkName(name string) error {
	if name == "" {
		return errors.New("empty name")
	}
	for i, c := range name {
		letter := c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return fmt.Errorf("%q is not a Python identifier", name)
		}
	}
	if pythonKeywords[name] {
		return fmt.Errorf("%q is a Python keyword", name)
	}
	if len(name) > 1 && name[:2] == "__" {
		return fmt.Errorf("%q starts with two underscores", name)
	}
	return nil
}
