package rlm

import (
	"context"
	"fmt"
	"strings"
)

// The functions Python code calls: the worker sub-calls, rlm_query and the
// hooks behind FINAL and the answer dict. FINAL, FINAL_VAR, SHOW_VARS, the
// asynchronous calls and their handles are Python, in the prelude.

// reservedNames are bound by the engine and put back when code rebinds
// them; SHOW_VARS leaves them out. The answer dict is not among them: code
// may replace it (see _rlm_check_answer); nor is a session's history, a name
// code may use in a plain run.
var reservedNames = []string{
	"context", "prompt", "question",
	"sub_call", "llm_query", "llm_query_batched", "rlm_query", "rlm_query_batched",
	"llm_query_async", "sub_call_async", "wait_all", "SubCallHandle",
	"FINAL", "FINAL_VAR", "SHOW_VARS",
}

// prelude defines the Python half of the host functions; the _rlm_ names
// are the Go hooks and the engine's own helpers. str() happens in Python so
// that answers read as Python prints them.
var prelude = `_rlm_reserved = frozenset(` + pythonList(reservedNames) + `)
_rlm_missing = object()


def _rlm_hidden(name):
    return (name.startswith("_") or name in _rlm_reserved
            or (name.startswith("context_") and name[8:].isdigit()))


def _rlm_untouched_answer(value):
    return isinstance(value, dict) and set(value) == {"content", "ready"} and not value["content"]


def FINAL(answer):
    """Submit answer, converted with str(), as the final answer."""
    _rlm_final(str(answer))


def FINAL_VAR(name):
    """Submit a variable's value, converted with str(), as the final answer:
    name is the variable's name as a str, or the value itself."""
    if not isinstance(name, str):
        return FINAL(name)
    key = name.strip().strip("'\"")
    namespace = globals()
    if key in namespace and not _rlm_hidden(key):
        return FINAL(namespace[key])
    names = sorted(n for n in namespace if not _rlm_hidden(n) and type(namespace[n]).__name__ != "module"
                   and not (n == "answer" and _rlm_untouched_answer(namespace[n])))
    raise NameError("FINAL_VAR: there is no variable named %r (variables: %s); assign it first, "
                    "or pass the value itself" % (key, ", ".join(names) or "none yet"))


def SHOW_VARS():
    """Print the variables defined so far, with their types and sizes."""
    rows = []
    namespace = globals()
    for name in sorted(namespace):
        value = namespace[name]
        if _rlm_hidden(name) or (name == "answer" and _rlm_untouched_answer(value)):
            continue
        kind = type(value).__name__
        if kind == "module":
            continue
        try:
            size = " (len %d)" % len(value)
        except Exception:
            size = ""
        rows.append("%s: %s%s" % (name, kind, size))
    print("\n".join(rows) if rows else "no variables defined yet")


def _rlm_begin(reset, forget):
    namespace = globals()
    if forget:
        for name in [n for n in namespace if not _rlm_hidden(n) and n not in _rlm_initial]:
            del namespace[name]
    if reset or forget or isinstance(namespace.get("answer", {}), dict):
        namespace["answer"] = {"content": "", "ready": False}


def _rlm_check_answer(restore):
    namespace = globals()
    value = namespace.get("answer", _rlm_missing)
    if isinstance(value, dict):
        if value.get("ready"):
            content = value.get("content", "")
            try:
                text = str(content)
            except Exception:
                text = repr(content)
            _rlm_final(text)
        return
    if value is _rlm_missing or restore:
        namespace["answer"] = {"content": "", "ready": False}
        if value is not _rlm_missing:
            _rlm_answer_restored()


class SubCallHandle:
    """A sub-call running in the background (see llm_query_async)."""

    __slots__ = ("_id", "_answer")

    def __init__(self, handle):
        self._id = handle
        self._answer = None

    def done(self):
        """Whether the answer is ready (or the call failed or was cancelled)."""
        return self._wait(0)

    def result(self, timeout=None):
        """Wait for the answer and return it, a str that starts with "Error:"
        if the call failed or was cancelled; raise TimeoutError if timeout
        seconds pass first."""
        if not self._wait(timeout):
            raise TimeoutError("sub-call %d is still running after %s s" % (self._id, timeout))
        return self._answer

    def cancel(self):
        """Stop the call if it still runs; return whether it did."""
        return _rlm_async_cancel([self._id])[0]

    def _wait(self, timeout):
        if self._answer is None:
            (done, answer), = _rlm_async_wait([self._id], timeout)
            if done:
                self._answer = answer
        return self._answer is not None

    def __repr__(self):
        return "<sub-call %d: %s>" % (self._id, "done" if self._answer is not None else "started")


def llm_query_async(prompt, model=None):
    """Start llm_query(prompt) in the background; return its SubCallHandle at once."""
    return SubCallHandle(_rlm_async_start("llm_query", [prompt], None, model)[0])


def sub_call_async(chunk, query, model=None):
    """Start sub_call(chunk, query) in the background; return its SubCallHandle at
    once, or a list of handles for a list of chunks."""
    if isinstance(chunk, (list, tuple)):
        return [SubCallHandle(h) for h in _rlm_async_start("sub_call", list(chunk), query, model)]
    return SubCallHandle(_rlm_async_start("sub_call", [chunk], query, model)[0])


def wait_all(handles, timeout=None):
    """Wait for every SubCallHandle and return their answers in order; raise
    TimeoutError if timeout seconds pass first."""
    handles = list(handles)
    for h in handles:
        if not isinstance(h, SubCallHandle):
            raise TypeError("wait_all takes SubCallHandles, not %s" % type(h).__name__)
    pending = [h for h in handles if h._answer is None]
    if pending:
        for h, (done, answer) in zip(pending, _rlm_async_wait([h._id for h in pending], timeout)):
            if done:
                h._answer = answer
    late = [h._id for h in handles if h._answer is None]
    if late:
        raise TimeoutError("%d sub-call(s) still running after %s s" % (len(late), timeout))
    return [h._answer for h in handles]


_rlm_initial = frozenset(globals())
`

func pythonList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = fmt.Sprintf("%q", n)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// hostSubCall is sub_call(chunk, query, model=None); chunk may be a list of
// chunks, answered as one batch.
func (ru *run) hostSubCall(ctx context.Context, args []any, kwargs map[string]any) (any, error) {
	vals, worker, err := ru.bindArgs("sub_call", args, kwargs, "chunk", "query")
	if err != nil {
		return nil, err
	}
	query, err := stringArg("sub_call", "query", vals[1])
	if err != nil {
		return nil, err
	}
	if chunks, ok := vals[0].([]any); ok {
		calls := make([]workerCall, len(chunks))
		for i, c := range chunks {
			chunk, ok := c.(string)
			if !ok {
				return nil, fmt.Errorf("sub_call: chunk %d is %s, not a str", i, pythonType(c))
			}
			calls[i] = chunkCall(KindSubCall, chunk, query)
		}
		return stringsToAny(ru.callWorker(ctx, ru.site(), worker, calls)), nil
	}
	chunk, err := stringArg("sub_call", "chunk (a str or a list of str)", vals[0])
	if err != nil {
		return nil, err
	}
	return ru.callWorker(ctx, ru.site(), worker, []workerCall{chunkCall(KindSubCall, chunk, query)})[0], nil
}

// hostLLMQuery is llm_query(prompt, model=None).
func (ru *run) hostLLMQuery(ctx context.Context, args []any, kwargs map[string]any) (any, error) {
	vals, worker, err := ru.bindArgs("llm_query", args, kwargs, "prompt")
	if err != nil {
		return nil, err
	}
	prompt, err := stringArg("llm_query", "prompt", vals[0])
	if err != nil {
		return nil, err
	}
	return ru.callWorker(ctx, ru.site(), worker, []workerCall{promptCall(KindLLMQuery, prompt)})[0], nil
}

// hostLLMQueryBatched is llm_query_batched(prompts, model=None).
func (ru *run) hostLLMQueryBatched(ctx context.Context, args []any, kwargs map[string]any) (any, error) {
	vals, worker, err := ru.bindArgs("llm_query_batched", args, kwargs, "prompts")
	if err != nil {
		return nil, err
	}
	prompts, err := stringList("llm_query_batched", "prompt", vals[0])
	if err != nil {
		return nil, err
	}
	calls := make([]workerCall, len(prompts))
	for i, prompt := range prompts {
		calls[i] = promptCall(KindLLMQueryBatched, prompt)
	}
	return stringsToAny(ru.callWorker(ctx, ru.site(), worker, calls)), nil
}

// hostRLMQuery is rlm_query(text, query=None, model=None): a child RLM over
// text when the depth allows one, else a plain worker call. Without a query
// the text itself says what to do.
func (ru *run) hostRLMQuery(ctx context.Context, args []any, kwargs map[string]any) (any, error) {
	vals, worker, err := ru.bindArgs("rlm_query", args, kwargs, "text", "query")
	if err != nil {
		return nil, err
	}
	text, err := stringArg("rlm_query", "text", vals[0])
	if err != nil {
		return nil, err
	}
	query, err := optionalString("rlm_query", "query", vals[1])
	if err != nil {
		return nil, err
	}
	if ru.atMaxDepth() {
		return ru.callWorker(ctx, ru.site(), worker, []workerCall{rlmQueryCall(KindRLMQuery, text, query)})[0], nil
	}
	return ru.callChild(ctx, ru.site(), text, query, worker, 1, 0), nil
}

// hostRLMQueryBatched is rlm_query_batched(texts, query=None, model=None):
// a child RLM per text, run concurrently, or plain worker calls at the
// last depth.
func (ru *run) hostRLMQueryBatched(ctx context.Context, args []any, kwargs map[string]any) (any, error) {
	vals, worker, err := ru.bindArgs("rlm_query_batched", args, kwargs, "texts", "query")
	if err != nil {
		return nil, err
	}
	texts, err := stringList("rlm_query_batched", "text", vals[0])
	if err != nil {
		return nil, err
	}
	query, err := optionalString("rlm_query_batched", "query", vals[1])
	if err != nil {
		return nil, err
	}
	if ru.atMaxDepth() {
		calls := make([]workerCall, len(texts))
		for i, text := range texts {
			calls[i] = rlmQueryCall(KindRLMQueryBatched, text, query)
		}
		return stringsToAny(ru.callWorker(ctx, ru.site(), worker, calls)), nil
	}
	return stringsToAny(ru.callChildren(ctx, texts, query, worker)), nil
}

// atMaxDepth reports that this run may start no child RLM.
func (ru *run) atMaxDepth() bool { return ru.spec.depth+1 >= ru.cfg.maxDepth }

// rlmQueryCall is the worker call that stands in for a child RLM at the
// last depth.
func rlmQueryCall(kind SubCallKind, text, query string) workerCall {
	if query == "" {
		return promptCall(kind, text)
	}
	return chunkCall(kind, text, query)
}

// hostFinal is the Go half of FINAL and of the answer dict.
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

// hostAnswerRestored notes that code replaced the answer dict by something
// else, and a fresh one was bound.
func (ru *run) hostAnswerRestored(context.Context, []any, map[string]any) (any, error) {
	ru.mu.Lock()
	ru.answerRestored = true
	ru.mu.Unlock()
	return nil, nil
}

// bindArgs matches positional and keyword arguments to parameter names, as
// Python would; missing ones are nil. The keyword model names the worker;
// an unknown one is an error Python raises.
func (ru *run) bindArgs(fn string, args []any, kwargs map[string]any, names ...string) (vals []any, worker string, err error) {
	if len(args) > len(names) {
		return nil, "", fmt.Errorf("%s() takes %d arguments but %d were given", fn, len(names), len(args))
	}
	vals = make([]any, len(names))
	copy(vals, args)
	for key, v := range kwargs {
		i := indexOf(names, key)
		switch {
		case key == "model":
			if worker, err = ru.workerArg(fn, v); err != nil {
				return nil, "", err
			}
		case i < 0:
			return nil, "", fmt.Errorf("%s() got an unexpected keyword argument %q", fn, key)
		case i < len(args):
			return nil, "", fmt.Errorf("%s() got multiple values for argument %q", fn, key)
		default:
			vals[i] = v
		}
	}
	return vals, worker, nil
}

// workerArg checks a model= argument: None, or the name of a worker.
func (ru *run) workerArg(fn string, v any) (string, error) {
	if v == nil {
		return "", nil
	}
	name, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: model must be a str, not %s", fn, pythonType(v))
	}
	if _, err := ru.t.rlm.worker(name); err != nil {
		return "", fmt.Errorf("%s: %w", fn, err)
	}
	return name, nil
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

func optionalString(fn, name string, v any) (string, error) {
	if v == nil {
		return "", nil
	}
	return stringArg(fn, name, v)
}

// stringList reads a list of str; item names its items in errors.
func stringList(fn, item string, v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: expected a list of str, not %s", fn, pythonType(v))
	}
	out := make([]string, len(list))
	for i, x := range list {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("%s: %s %d is %s, not a str", fn, item, i, pythonType(x))
		}
		out[i] = s
	}
	return out, nil
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
