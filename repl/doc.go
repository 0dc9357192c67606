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
//	r.Set(ctx, "context", document)
//	r.Set(ctx, "prompt", document)
//	res, err := r.Exec(ctx, code)
//
// The Python process is contained by the kernel, not by Python: see
// # Isolation and # Threat model below.
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
// bool, nil, []any and map[string]any; tuples become lists. In the
// arguments of a host function anything else comes back as its str()
// (computed in the calling thread), as do integers beyond int64, non-finite
// floats and dict keys that are not strings; [REPL.Get] never runs code of
// the cell's and converts built-in types only (see there). Values are
// decoded within a memory budget: arguments that would cost the host more
// than twice their message (millions of tiny items) fail the call with an
// error; one long string costs about its own length.
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
// context. Calls made by a thread that an earlier cell left running are
// refused, during later cells too, and so are calls beyond the bytes of
// messages the host serves at once (four times [WithMessageLimit]).
//
// [WithPrelude] runs Python at start and after every restart, after the host
// functions are bound: this is where the rlm package defines FINAL_VAR and
// SHOW_VARS in Python on top of host functions.
//
// # Protected names
//
// The names the host binds (with Set, WithFunc, WithBatchFunc, or in the
// prelude) are put back after every cell if the cell rebound or deleted them,
// or changed them in place: a function's code, defaults or closure cells, a
// list's or dict's items. Result.Restored says so. Models do overwrite
// context and llm_query.
//
// # Output
//
// sys.stdout and sys.stderr are capture buffers that keep the first
// [WithOutputLimit] characters of each per cell (default 20,000, as the RLM
// protocol expects) and count the rest, so a cell printing gigabytes costs
// the host no more memory than the cap; the kept text ends with a marker
// saying how much was cut. Exception messages and tracebacks are capped the
// same way, and Result.Changed at 1,000 names. What a thread writes goes to
// the cell it belongs to: the main thread's and those the cell started; a
// thread an earlier cell left running writes nowhere. The process's real
// descriptors 1 and 2 (C-level writes, fatal error reports) go to a drain
// that keeps only their last 4 KiB for the log.
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
// # Isolation
//
// The code a cell runs is written by a language model about documents nobody
// vetted, so the package treats it as an attacker's. What contains it is the
// kernel: every layer below is applied to the Python process before any cell
// runs, while it has a single thread, in this order, and the kernel keeps
// each for the life of the process and every thread it starts, whatever the
// cell does afterwards (switching the audit hook off included):
//
//  1. Namespaces. The process is cloned into new user, mount, pid, network,
//     IPC, UTS and cgroup namespaces ([syscall.SysProcAttr]; no privilege
//     is needed: it is root in its user namespace, the host's user outside).
//     It sees no other process (it is pid 2; pid 1 is a small init that
//     relays its exit status and whose death ends the namespace) and no
//     network device.
//  2. Mounts. The scratch directory Start creates is a private tmpfs of
//     [WithScratchQuota] bytes (default 256 MiB): a real disk quota, which
//     also bounds the memory files can hold outside RLIMIT_AS. /proc is the
//     new pid namespace's.
//  3. Resource limits, as above, and where the host has a cgroup v2 to
//     delegate ([WithCgroup]), a cgroup of the process's own, entered at
//     clone, that bounds its memory (page cache, tmpfs and shared memory
//     included), swap and tasks.
//  4. Capabilities: every set is emptied, the bounding set included.
//  5. no_new_privs.
//  6. Landlock (the ABI the kernel offers, up to what the package knows):
//     reading only the Python installation, the system's shared libraries
//     and time zone data, and [WithReadPaths]; writing only the scratch
//     directory; no device but /dev/null, /dev/zero, /dev/full and the
//     random devices; running no program; no TCP (ABI 4); no signals or
//     abstract Unix sockets out of the sandbox (ABI 6).
//  7. A seccomp filter, assembled by the host for its architecture: no
//     execve or execveat, no process creation (fork, vfork, clone without
//     CLONE_THREAD or with namespace flags; clone3 fails with ENOSYS so that
//     the C library falls back to clone), no socket or socketpair, no
//     ptrace, process_vm_readv/writev, pidfds, kcmp or memfd_create, signals
//     to its own process only, scheduling, priority and limit changes to
//     itself only, no chroot, mount, unshare, setns or new mount API, no
//     bpf, perf_event_open, userfaultfd, io_uring or keyrings, no module
//     loading, kexec, reboot, swap, clock or hostname changes, and no ioctl
//     that changes file attributes (FS_IOC_SETFLAGS and kin) or injects
//     terminal input. Denied calls fail with EPERM; nothing kills the
//     process. Calls of another ABI (32-bit x86, x32) are denied.
//  8. The CPython audit hook (# Readable refusals).
//
// [WithIsolation] chooses the level. [IsolationBestEffort], the default,
// applies every layer the machine offers and starts without the others,
// logging one warning (once per REPL) that names them. [IsolationStrict]
// refuses to start, with an error wrapping [ErrIsolation], unless every
// layer is in force (the private tmpfs is required only for the scratch
// directory Start creates). [IsolationHookOnly] applies no kernel layer,
// for comparison and debugging. [REPL.Layers] reports what is in force for
// the current process, as the kernel says it (no_new_privs, seccomp and the
// capability sets are read back from /proc/self/status), including whether
// memory is limited by rlimits or a cgroup. The layers need Linux with
// Landlock (5.13; Debian and Ubuntu kernels enable it), seccomp filters,
// unprivileged user namespaces, and ctypes in the interpreter; amd64 and
// arm64 have a seccomp filter.
//
// # Threat model
//
// With every layer in force, code in a cell, even code that gained
// arbitrary native execution in the interpreter (ctypes, a memory-safety
// bug), cannot: run a program; create a process; open a socket or reach the
// network; read the host's files, secrets or environment (only the paths
// above); write, create, delete or change the attributes of any file
// outside its scratch directory, or more than the quota inside it; see,
// signal, trace or reschedule another process; raise its limits or hold
// memory outside them (memfd, /dev/shm); mount, chroot or enter
// namespaces; or outlive [REPL.Close]. The host treats every frame from it
// as hostile: frames are bounded by [WithMessageLimit] before anything is
// allocated, values are decoded within a memory budget (a message costs the
// host at most about twice its size; a call whose arguments would cost
// more fails with an error), Get never runs the cell's code, exception
// texts and name lists are capped like the output, and neither a stalled
// reader nor a flood of host calls can hang the host.
//
// It can still: use the CPU until its time limits; keep threads running
// between cells (Result.Threads; their output is dropped and their host
// calls refused); read the files the rules allow; learn the names, sizes
// and times of files elsewhere (Landlock governs opening, not stat or
// readlink); call the host functions it was given with any arguments, which
// is how a prompt injection reaches a model; and attack the kernel through
// the system calls the filter allows. Without a delegated cgroup, memory is
// limited per process by RLIMIT_AS and the tmpfs quota only, so kernel
// memory (pipe buffers, page tables) is not counted. When the host runs as root, the
// process is uid 0 mapped to the host's root: it has no capability, but
// owns root's files as far as permission bits go, and Landlock is what
// keeps it out of them.
//
// [IsolationHookOnly], or a best-effort start that misses layers, contains
// runaway and careless code, not a determined attacker: the audit hook lives
// in the same interpreter as the code it polices, and enough introspection
// (the garbage collector, frames, a module loaded twice) switches it off.
//
// # Readable refusals
//
// The process runs in its scratch directory ([WithScratchDir]; by default a
// temporary directory removed by Close) with a scrubbed environment: PATH,
// HOME, TMPDIR and LANG only, plus what [WithEnv] lets through, so tokens and
// keys of the host (HF_TOKEN, OPENAI_API_KEY...) never reach it. A CPython
// audit hook, installed after the kernel layers and before any user code,
// turns most refusals into a PermissionError that says what was refused and
// why ("repl sandbox: writing /etc/x outside the scratch directory is not
// allowed") before the kernel is reached. It refuses:
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
//     Python's installation, the system's libraries and [WithReadPaths].
//
// What gets past the hook meets the kernel, which refuses with EPERM or
// EACCES: Python raises PermissionError for those too, with the system's
// message ("[Errno 13] Permission denied").
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
// per task: each has its own process, scratch directory and namespaces.
package repl
