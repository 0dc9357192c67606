package rlm

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-rlm/rlm/repl"
)

// The functions Python code calls: the worker sub-calls, rlm_query and the
// hook behind FINAL. FINAL, FINAL_VAR and SHOW_VARS are Python, in the
// prelude.

// reservedNames are bound by the engine and put back when code rebinds
// them; SHOW_VARS leaves them out.
var reservedNames = []string{
	"context", "prompt", "question",
	"sub_call", "llm_query", "llm_query_batched", "rlm_query",
	"FINAL", "FINAL_VAR", "SHOW_VARS",
}

// prelude defines the Python half of the host functions. _rlm_final is the
// Go hook; str() happens in Python so that answers read as Python prints
// them.
var prelude = `_rlm_reserved = frozenset(` + pythonList(reservedNames) + `)


def FINAL(answer):
    """Submit answer as the final answer."""
    text = str(answer)
    _rlm_final(text)
    return text


def FINAL_VAR(name):
    """Submit the value of the variable called name as the final answer."""
    if not isinstance(name, str):
        raise TypeError("FINAL_VAR takes the name of a variable as a string, e.g. FINAL_VAR('result'); "
                        "to submit a value, call FINAL(value)")
    key = name.strip().strip("'\"")
    namespace = globals()
    if key not in namespace or key.startswith("_") or key in _rlm_reserved:
        raise NameError("FINAL_VAR: there is no variable named %r; assign it first" % key)
    return FINAL(namespace[key])


def SHOW_VARS():
    """Print the variables defined so far, with their types and sizes."""
    rows = []
    namespace = globals()
    for name in sorted(namespace):
        if name.startswith("_") or name in _rlm_reserved:
            continue
        value = namespace[name]
        kind = type(value).__name__
        if kind == "module":
            continue
        try:
            size = " (len %d)" % len(value)
        except Exception:
            size = ""
        rows.append("%s: %s%s" % (name, kind, size))
    print("\n".join(rows) if rows else "no variables defined yet")
`

func pythonList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = fmt.Sprintf("%q", n)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// hostOptions registers the Go side of the host functions.
func (ru *run) hostOptions() []repl.Option {
	return []repl.Option{
		repl.WithFunc("sub_call", ru.hostSubCall),
		repl.WithFunc("llm_query", ru.hostLLMQuery),
		repl.WithFunc("llm_query_batched", ru.hostLLMQueryBatched),
		repl.WithFunc("rlm_query", ru.hostRLMQuery),
		repl.WithFunc("_rlm_final", ru.hostFinal),
	}
}

// hostSubCall is sub_call(chunk, query); chunk may be a list of chunks,
// answered as one batch.
func (ru *run) hostSubCall(ctx context.Context, args []any, kwargs map[string]any) (any, error) {
	vals, err := bindArgs("sub_call", args, kwargs, "chunk", "query")
	if err != nil {
		return nil, err
	}
	query, err := stringArg("sub_call", "query", vals[1])
	if err != nil {
		return nil, err
	}
	call := func(chunk string) workerCall {
		return workerCall{kind: KindSubCall, messages: subCallMessages(chunk, query), chunk: chunk, query: query}
	}
	if chunks, ok := vals[0].([]any); ok {
		calls := make([]workerCall, len(chunks))
		for i, c := range chunks {
			chunk, ok := c.(string)
			if !ok {
				return nil, fmt.Errorf("sub_call: chunk %d is %s, not a str", i, pythonType(c))
			}
			calls[i] = call(chunk)
		}
		return stringsToAny(ru.callWorker(ctx, calls)), nil
	}
	chunk, err := stringArg("sub_call", "chunk (a str or a list of str)", vals[0])
	if err != nil {
		return nil, err
	}
	return ru.callWorker(ctx, []workerCall{call(chunk)})[0], nil
}

// hostLLMQuery is llm_query(prompt).
func (ru *run) hostLLMQuery(ctx context.Context, args []any, kwargs map[string]any) (any, error) {
	vals, err := bindArgs("llm_query", args, kwargs, "prompt")
	if err != nil {
		return nil, err
	}
	prompt, err := stringArg("llm_query", "prompt", vals[0])
	if err != nil {
		return nil, err
	}
	return ru.callWorker(ctx, []workerCall{promptCall(KindLLMQuery, prompt)})[0], nil
}

// hostLLMQueryBatched is llm_query_batched(prompts).
func (ru *run) hostLLMQueryBatched(ctx context.Context, args []any, kwargs map[string]any) (any, error) {
	vals, err := bindArgs("llm_query_batched", args, kwargs, "prompts")
	if err != nil {
		return nil, err
	}
	prompts, ok := vals[0].([]any)
	if !ok {
		return nil, fmt.Errorf("llm_query_batched: prompts must be a list of str, not %s", pythonType(vals[0]))
	}
	calls := make([]workerCall, len(prompts))
	for i, p := range prompts {
		prompt, ok := p.(string)
		if !ok {
			return nil, fmt.Errorf("llm_query_batched: prompt %d is %s, not a str", i, pythonType(p))
		}
		calls[i] = promptCall(KindLLMQueryBatched, prompt)
	}
	return stringsToAny(ru.callWorker(ctx, calls)), nil
}

// hostRLMQuery is rlm_query(text, query=None): a child RLM over text when
// the depth allows one, else a plain worker call. Without a query the text
// itself says what to do.
func (ru *run) hostRLMQuery(ctx context.Context, args []any, kwargs map[string]any) (any, error) {
	vals, err := bindArgs("rlm_query", args, kwargs, "text", "query")
	if err != nil {
		return nil, err
	}
	text, err := stringArg("rlm_query", "text", vals[0])
	if err != nil {
		return nil, err
	}
	query := ""
	if vals[1] != nil {
		if query, err = stringArg("rlm_query", "query", vals[1]); err != nil {
			return nil, err
		}
	}
	if ru.spec.depth+1 >= ru.cfg.maxDepth {
		call := promptCall(KindRLMQuery, text)
		if query != "" {
			call = workerCall{kind: KindRLMQuery, messages: subCallMessages(text, query), chunk: text, query: query}
		}
		return ru.callWorker(ctx, []workerCall{call})[0], nil
	}
	return ru.callChild(ctx, text, query), nil
}

// hostFinal is the Go half of FINAL.
func (ru *run) hostFinal(_ context.Context, args []any, _ map[string]any) (any, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("FINAL takes one argument, got %d", len(args))
	}
	answer, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("FINAL: answer is %s, not a str", pythonType(args[0]))
	}
	ru.setFinal(answer)
	return nil, nil
}

// bindArgs matches positional and keyword arguments to parameter names, as
// Python would; missing ones are nil. The keyword model, which other RLM
// implementations accept, is ignored.
func bindArgs(fn string, args []any, kwargs map[string]any, names ...string) ([]any, error) {
	if len(args) > len(names) {
		return nil, fmt.Errorf("%s() takes %d arguments but %d were given", fn, len(names), len(args))
	}
	vals := make([]any, len(names))
	copy(vals, args)
	for key, v := range kwargs {
		i := indexOf(names, key)
		switch {
		case key == "model":
		case i < 0:
			return nil, fmt.Errorf("%s() got an unexpected keyword argument %q", fn, key)
		case i < len(args):
			return nil, fmt.Errorf("%s() got multiple values for argument %q", fn, key)
		default:
			vals[i] = v
		}
	}
	return vals, nil
}

func indexOf(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}

func stringArg(fn, name string, v any) (string, error) {
	if v == nil {
		return "", fmt.Errorf("%s() is missing the argument %s", fn, name)
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: %s must be a str, not %s", fn, name, pythonType(v))
	}
	return s, nil
}

// pythonType names the Python type a decoded value came from.
func pythonType(v any) string {
	switch v.(type) {
	case nil:
		return "None"
	case string:
		return "str"
	case int64:
		return "int"
	case float64:
		return "float"
	case bool:
		return "bool"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	}
	return fmt.Sprintf("%T", v)
}

func stringsToAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
