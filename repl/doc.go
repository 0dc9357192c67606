// Package repl runs a sandboxed CPython REPL in a child process and bridges
// it to Go.
//
// In a Recursive Language Model the controller model writes Python that runs
// against a document far larger than its context window. Models write real
// Python (slicing, re, collections.Counter, f-strings), so the REPL is real
// CPython 3.8 or newer, kept alive across cells so that variables persist.
// The package imports only the standard library and knows nothing of
// language models: the rlm package registers the functions (sub_call,
// llm_query, FINAL and the like) that Python code calls.
//
//	r, err := repl.Start(ctx, repl.WithFunc("sub_call", subCall), repl.WithTimeout(time.Minute))
//	if err != nil { ... }
//	defer r.Close()
//	r.Set("context", document)
//	r.Set("prompt", document)
//	res, err := r.Exec(ctx, code)
//
// # Cells and results
//
// [REPL.Exec] runs one cell in the interpreter's __main__ namespace and
// returns a [Result]: stdout, stderr, the exception with its traceback, the
// user variables the cell defined or rebound, the protected names it
// clobbered, and its wall time. A Python exception is a result, not a Go
// error; so are a timeout and a restarted process. Cells of one REPL run one
// at a time; [REPL.Get] and [REPL.Set] may run beside a cell. With
// [WithDisplay], a cell whose last statement is an expression prints its
// repr() as a notebook does.
//
// Besides Python's own exception types, Exception.Type may name what the
// host did to the cell:
//
//   - TimeoutError: the cell exceeded [WithTimeout] (it was interrupted) or
//     [WithCPULimit] (its process was killed)
//   - MemoryError: also when the process had to be restarted for lack of
//     memory
//   - ProtocolError: the cell corrupted or closed the channel to the host
//   - ProcessExit: the process exited (os._exit) or died of a signal
//   - KeyboardInterrupt: the Exec context was cancelled
//
// # Values
//
// Values cross as JSON, except that long strings (a document bound with Set,
// a chunk passed to a host function, a long value read with Get) travel raw,
// neither escaped nor parsed. Go strings,
// numbers, bools, nil, slices and string-keyed maps become str, int, float,
// bool, None, list and dict; a Go float stays a Python float, NaN and
// infinities included. Python values come back as string, int64, float64,
// bool, nil, []any and map[string]any; tuples become lists; anything else
// comes back as its str(), as do integers beyond int64, non-finite floats
// and dict keys that are not strings.
//
// A document is bound once with [REPL.Set]: it is written to the pipe from
// the caller's memory, decoded once in Python, and never pasted into code or
// copied per cell. A string equal to one already bound (the RLM binds its
// document as both context and prompt) is shared with it, not sent again.
// It is sent again only when the process restarts.
//
// # Host functions
//
// [WithFunc] makes a Go [Func] callable from Python with positional and
// keyword arguments; [WithBatchFunc] makes a [BatchFunc] that Python calls
// with a list, whose items Go handles concurrently, returning the results in
// order. The Python caller blocks until Go answers; a Go error is raised in
// Python as HostError (a RuntimeError) carrying the error's text, and a panic
// in a host function fails that call, not the program. Calls from several
// Python threads are served concurrently.
//
// A host function receives the context of the Exec that runs the cell,
// cancelled when the cell is interrupted or ends; it may call [REPL.Get] and
// [REPL.Set] on its own REPL (but not [REPL.Exec]). Exec returns only after
// the host functions of its cell have returned, so they must honour their
// context. Calls made outside a cell, by a thread a cell left behind, are
// refused.
//
// [WithPrelude] runs Python at start and after every restart, after the host
// functions are bound: this is where the rlm package defines FINAL_VAR and
// SHOW_VARS in Python on top of host functions.
//
// # Protected names
//
// The names the host binds (with Set, WithFunc, WithBatchFunc, or in the
// prelude) are put back after every cell if the cell rebound or deleted them,
// and Result.Restored says so. Models do overwrite context and llm_query.
//
// # Output
//
// sys.stdout and sys.stderr are capture buffers that keep the first
// [WithOutputLimit] characters of each per cell (default 20,000, as the RLM
// protocol expects) and count the rest, so a cell printing gigabytes costs
// the host no more memory than the cap; the kept text ends with a marker
// saying how much was cut. The process's real descriptors 1 and 2 (C-level
// writes, fatal error reports) go to a drain that keeps only their last 4 KiB
// for the log.
//
// # Limits and restarts
//
// A cell that exceeds [WithTimeout], or whose Exec context ends, is
// interrupted: SIGINT, which Python turns into KeyboardInterrupt. If it has
// not stopped after [WithInterruptGrace] (it ignores SIGINT, swallows the
// exception or is stuck in C code), the process is killed and started anew:
// the host functions, the prelude and every value bound with Set are bound
// again, other variables are lost, and Result.Restarted says so. The same
// restart follows a process that exits, crashes, corrupts its channel, or
// runs out of memory (a MemoryError after which 16 MiB can no longer be
// allocated). A process that dies between cells is replaced at the next
// call, and the next cell reports Restarted.
//
// The process runs with resource limits set before any user code: address
// space ([WithMemoryLimit], default 2 GiB), CPU time per cell
// ([WithCPULimit]), open files ([WithMaxOpenFiles], default 256), file size
// ([WithMaxFileSize], default 1 GiB), no core dumps, and optionally
// RLIMIT_NPROC ([WithMaxProcesses]). It runs in its own process group, which
// is killed as a whole, and dies with the host (PR_SET_PDEATHSIG).
//
// # Containment
//
// The process runs in its own scratch directory ([WithScratchDir]; by default
// a temporary directory removed by Close) with a scrubbed environment: PATH,
// HOME, TMPDIR and LANG only, plus what [WithEnv] lets through, so tokens and
// keys of the host (HF_TOKEN, OPENAI_API_KEY...) never reach it. A CPython
// audit hook, installed before any user code, refuses:
//
//   - process creation: os.system, subprocess, os.fork and os.forkpty,
//     os.exec*, os.posix_spawn, pty, multiprocessing, and
//     _posixsubprocess.fork_exec (disarmed, and kept from being reloaded);
//   - signals to other processes (os.kill, os.killpg) and raising its own
//     resource limits;
//   - network sockets of every family;
//   - ctypes, cffi, subinterpreters and CPython's test modules;
//   - writing, creating, renaming or deleting files outside the scratch
//     directory, opening device files, and links that lead outside;
//   - reading files or listing directories outside the scratch directory,
//     Python's own installation and [WithReadPaths].
//
// This contains runaway and careless code, and code a prompt injection
// talked the model into writing: it cannot start programs, reach the
// network, read the host's files or secrets, write outside its directory,
// exhaust the host's memory, or take the host down. It does not contain a
// determined attacker: the audit hook lives in the same interpreter as the
// code it polices, and a CPython memory-safety bug, or enough introspection
// to reach the hook's own state, defeats it. To run untrusted code against
// such an attacker, run the whole program in a container or VM (with no
// network and a read-only filesystem) as well.
//
// # The channel
//
// Go and Python talk over two dedicated pipes passed as extra descriptors,
// not over stdin and stdout. The child moves them to high, random descriptor
// numbers and closes the originals, so that user code does not stumble on
// them. Messages are frames: a random per-process magic, two lengths, a JSON
// header and an optional raw blob. User code cannot corrupt the channel
// without the host noticing: bytes it writes into the descriptors do not
// carry the magic, and any malformed or oversized frame ([WithMessageLimit]),
// an unexpected message or the end of the channel ends that process, never
// the host; the next call gets a fresh one with the document bound again.
// Inside the host, one goroutine per REPL owns the process and serves the
// exported methods, and writes go through a queue, so that no Python
// behaviour can block it: a cell can always be timed out, and Close always
// kills and reaps the process and returns.
//
// # Concurrency
//
// A [REPL] is safe for concurrent use. Many REPLs may run side by side, one
// per task: each has its own process, scratch directory and namespace.
package repl
