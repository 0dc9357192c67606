# The Python side of the Go package repl.
#
# The stub in bootstrap.go reads this source from the host channel and executes
# it in a fresh namespace, so nothing here is importable by user code. From then
# on the host and this process speak only through two pipes, in frames: 8 bytes
# of session magic, two big-endian uint32 lengths (JSON header, raw blob), the
# header and the blob (see frame.go).
#
# Threads: the main thread runs cells (and idles in _jobs.get() between them);
# the reader thread owns the pipe from the host, answers get/set at once (also
# while a cell runs) and hands replies to host calls to the threads waiting for
# them. Any failure of the channel ends the process: the host notices the
# missing process and starts a fresh one, so there is no recovery logic here.

import _imp
import ast
import _thread
import builtins
import faulthandler
import io
import itertools
import json
import linecache
import math
import os
import queue
import resource
import signal
import stat
import struct
import sys
import threading
import traceback
import types

# Imported here, before the audit hook exists, so that its fork_exec can be
# disarmed below: subprocess imports it, and it raises no audit event itself.
import _posixsubprocess

EXIT_CHANNEL = 70  # the channel to the host broke: end of input, bad frame, failed write
EXIT_INTERNAL = 71  # this bootstrap failed (most often: memory exhausted)

FRAME = struct.Struct('>8sII')
MAIN_THREAD = threading.get_ident()
SIGINT_ONLY = {signal.SIGINT}
HEADROOM = 16 << 20  # bytes that must still be allocatable after a MemoryError
BLOB_MIN = 64 << 10  # a value read with Get travels raw from this length
ARG_BLOB_MIN = 4 << 10  # a host call argument travels raw from this length


class ChannelError(Exception):
    """The channel to the host is unusable."""


class HostError(RuntimeError):
    """A Go host function returned an error; its text is the message."""


BOOTSTRAP_FILE = '<repl bootstrap>'  # the file name the stub compiles this source under


def refuse(what):
    raise PermissionError('repl sandbox: %s is not allowed' % what)


# ---------------------------------------------------------------- channel

def read_exact(fd, n):
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = os.readv(fd, [view[got:]])
        if k == 0:
            raise ChannelError('end of input')
        got += k
    return buf


def dumps(value):
    return json.dumps(value, ensure_ascii=False, allow_nan=False,
                      separators=(',', ':'), default=str)


def plain(value, depth=0, active=()):
    """Returns value reduced to what JSON carries: see Func in repl.go."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value) if -(1 << 63) <= value < (1 << 63) else str(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple, dict)):
        if depth > 100 or any(value is a for a in active):
            return safe_str(value)
        active = active + (value,)
        if isinstance(value, dict):
            return {k if isinstance(k, str) else safe_str(k): plain(v, depth + 1, active)
                    for k, v in value.items()}
        return [plain(v, depth + 1, active) for v in value]
    return safe_str(value)


def utf8(text):
    try:
        return text.encode('utf-8')  # fast path; lone surrogates need the slow one
    except UnicodeEncodeError:
        return text.encode('utf-8', 'surrogatepass')


def detach_strings(header):
    """Moves long string arguments of a host call out of the JSON header into
    the blob, where they travel raw: a chunk of the document is then neither
    escaped here nor parsed in Go. header['blobs'] says where each goes back."""
    refs, parts = [], []
    for where in ('args', 'items'):
        seq = header.get(where) or ()
        for i, v in enumerate(seq):
            if type(v) is str and len(v) >= ARG_BLOB_MIN:
                data = utf8(v)
                refs.append({'in': where, 'i': i, 'n': len(data)})
                parts.append(data)
                seq[i] = None
    kwargs = header.get('kwargs') or {}
    for k, v in kwargs.items():
        if type(v) is str and len(v) >= ARG_BLOB_MIN:
            data = utf8(v)
            refs.append({'in': 'kwargs', 'k': k, 'n': len(data)})
            parts.append(data)
            kwargs[k] = None
    if refs:
        header['blobs'] = refs
    return b''.join(parts)


def safe_str(value):
    try:
        return str(value)
    except BaseException:
        return '<unprintable %s>' % type(value).__name__


class Channel:
    def __init__(self, rfd, wfd, magic, limit):
        self.rfd = rfd
        self.wfd = wfd
        self.magic = magic
        self.limit = limit
        self.lock = threading.Lock()

    def read(self):
        magic, hlen, blen = FRAME.unpack(read_exact(self.rfd, FRAME.size))
        if magic != self.magic or hlen > self.limit or blen > self.limit:
            raise ChannelError('malformed frame')
        header = json.loads(read_exact(self.rfd, hlen).decode('utf-8'))
        blob = read_exact(self.rfd, blen) if blen else None
        return header, blob

    def encode(self, header, blob=b''):
        """Returns the frame bytes, or raises ValueError if it is too large."""
        try:
            text = dumps(header)
        except (ValueError, TypeError, RecursionError):
            text = dumps(plain(header))
        data = utf8(text)
        if len(data) + len(blob) > self.limit:
            raise ValueError('value too large for the host channel (%d bytes, limit %d)'
                             % (len(data) + len(blob), self.limit))
        return FRAME.pack(self.magic, len(data), len(blob)) + data + blob

    def send(self, header, blob=b''):
        self.write(self.encode(header, blob))

    def write(self, frame):
        # SIGINT stays pending while a frame is half written: a KeyboardInterrupt
        # between two os.write calls would corrupt the channel.
        main = threading.get_ident() == MAIN_THREAD
        if main:
            signal.pthread_sigmask(signal.SIG_BLOCK, SIGINT_ONLY)
        try:
            with self.lock:
                view = memoryview(frame)
                while view:
                    view = view[os.write(self.wfd, view):]
        except OSError:
            os._exit(EXIT_CHANNEL)
        finally:
            if main:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGINT_ONLY)


def hide_fds(rfd, wfd, nofile):
    """Moves the channel to unpredictable high descriptors and closes the originals."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    hi = min(soft, 1 << 16)
    lo = nofile if 0 < nofile < hi - 64 else 64
    if hi - lo < 64:
        lo = 10
    moved = []
    for fd in (rfd, wfd):
        while True:
            target = lo + int.from_bytes(os.urandom(4), 'big') % (hi - lo)
            try:
                os.fstat(target)
            except OSError:
                break  # free
        os.dup2(fd, target, inheritable=False)
        os.close(fd)
        moved.append(target)
    return moved


# ---------------------------------------------------------------- output capture

class Capture(io.TextIOBase):
    """A text stream that keeps at most limit characters and counts the rest."""

    def __init__(self, limit):
        super().__init__()
        self.limit = limit
        self.parts = []
        self.kept = 0
        self.cut = 0
        self.lock = threading.Lock()
        self.buffer = BinaryCapture(self)

    encoding = 'utf-8'
    errors = 'strict'

    def writable(self):
        return True

    def isatty(self):
        return False

    def flush(self):
        pass

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError('write() argument must be str, not %s' % type(s).__name__)
        n = len(s)
        with self.lock:
            room = self.limit - self.kept
            if n <= room:
                self.parts.append(s)
                self.kept += n
            else:
                if room > 0:
                    self.parts.append(s[:room])
                    self.kept += room
                self.cut += n - max(room, 0)
        return n

    def getvalue(self):
        with self.lock:
            return ''.join(self.parts), self.cut


class BinaryCapture(io.RawIOBase):
    """sys.stdout.buffer: bytes written are decoded into the text capture."""

    def __init__(self, text):
        super().__init__()
        self.text = text

    def writable(self):
        return True

    def write(self, b):
        self.text.write(bytes(b).decode('utf-8', 'replace'))
        return len(b)


# ---------------------------------------------------------------- sandbox

class Sandbox:
    """The audit hook: refuses process creation, network, native code loading,
    signals to other processes and file access outside the allowed roots."""

    PROCESS = {
        'os.system', 'os.exec', 'os.fork', 'os.forkpty', 'os.posix_spawn', 'os.spawn',
        'os.startfile', 'subprocess.Popen', 'pty.spawn', 'os.kill', 'os.killpg',
        'signal.pthread_kill', 'signal.pidfd_send_signal', 'os.pidfd_open',
        'cpython.PyInterpreterState_New', 'sys.remote_exec',
    }
    LIMITS = {'resource.setrlimit', 'resource.prlimit'}
    MODULES = {
        'ctypes', '_ctypes', '_posixsubprocess', '_xxsubinterpreters', '_xxinterpchannels',
        '_interpreters', '_interpchannels', '_interpqueues', '_testcapi',
        '_testinternalcapi', '_testmultiphase', '_testsinglephase', '_testbuffer',
        '_testimportmultiple', '_testclinic', 'cffi', '_cffi_backend',
    }
    READS = {'os.listdir': (0,), 'os.scandir': (0,), 'os.chdir': (0,), 'os.getxattr': (0,),
             'os.listxattr': (0,), 'os.fwalk': (0,), 'os.walk': (0,), 'glob.glob': (0,),
             'glob.glob/2': (0,)}
    WRITES = {'os.chmod': (0,), 'os.chown': (0,), 'os.mkdir': (0,), 'os.remove': (0,),
              'os.rename': (0, 1), 'os.rmdir': (0,), 'os.truncate': (0,), 'os.utime': (0,),
              'os.setxattr': (0,), 'os.removexattr': (0,), 'os.mkfifo': (0,),
              'os.mknod': (0,), 'shutil.chown': (0,)}
    DEVICES = {'/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom'}
    WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC

    def __init__(self, scratch, read_roots):
        self.write_roots = (scratch,)
        self.read_roots = tuple(read_roots)
        self.privileged = False  # set by the main thread around its own setrlimit

    def hook(self, event, args):
        if event == 'open':
            self.check_open(args)
        elif event in self.PROCESS:
            refuse('process control (%s)' % event)
        elif event.startswith('socket.'):
            refuse('network access (%s)' % event)
        elif event.startswith('ctypes.'):
            refuse('ctypes')
        elif event == 'import':
            name = args[0] if args else ''
            if name.partition('.')[0] in self.MODULES:
                raise ImportError('repl sandbox: module %s is not available' % name, name=name)
        elif event in self.READS:
            for i in self.READS[event]:
                self.check(args[i] if len(args) > i else None, False)
        elif event in self.WRITES:
            for i in self.WRITES[event]:
                self.check(args[i] if len(args) > i else None, True)
        elif event == 'os.link':
            # Both ends must be writable: a hard link to a readable file
            # (Python's own installation) would make it writable.
            self.check(args[0], True)
            self.check(args[1], True)
        elif event == 'os.symlink':
            # A link may only point where reading is allowed: otherwise a path
            # inside the scratch directory would lead outside it.
            target = args[0]
            if isinstance(target, (str, bytes, os.PathLike)) and not os.path.isabs(os.fspath(target)):
                target = os.path.join(os.path.dirname(os.path.abspath(os.fspath(args[1]))),
                                      os.fsdecode(os.fspath(target)))
            self.check(target, False)
            self.check(args[1], True)
        elif event in self.LIMITS:
            if not (self.privileged and threading.get_ident() == MAIN_THREAD):
                refuse('changing resource limits')

    def check_open(self, args):
        path = args[0]
        mode = args[1] if len(args) > 1 else None
        flags = args[2] if len(args) > 2 else None
        if isinstance(flags, int) and flags >= 0:
            write = bool(flags & self.WRITE_FLAGS)
        else:
            write = isinstance(mode, str) and any(c in mode for c in 'wax+')
        real = self.check(path, write)
        if real is None or real in self.DEVICES:
            return
        try:
            st = os.stat(real)
        except OSError:
            return  # does not exist yet: a regular file will be created
        if stat.S_ISBLK(st.st_mode) or stat.S_ISCHR(st.st_mode):
            refuse('opening device %s' % real)

    def check(self, path, write):
        """Refuses path unless it lies inside an allowed root; returns its real path."""
        if path is None:
            path = '.'
        if isinstance(path, int):
            if not write:
                return None  # an open descriptor: the OS checked it when it was opened
            # os.fchmod and the like act on the file behind the descriptor,
            # whatever mode it was opened in.
            try:
                path = os.readlink('/proc/self/fd/%d' % path)
            except OSError:
                refuse('changing descriptor %d' % path)
            if not path.startswith('/'):
                return None  # a pipe or another object with no path
        try:
            text = os.fsdecode(os.fspath(path))
        except TypeError:
            return None  # not a path (audit arguments of unusual calls)
        if not os.path.isabs(text) and '..' in text.replace('\\', '/').split('/'):
            # Relative paths are resolved against the working directory, but
            # os.open(dir_fd=...) resolves them elsewhere: keep them downward.
            refuse('relative path with ".." (%s)' % text)
        real = os.path.realpath(text)
        roots = self.write_roots if write else self.read_roots
        for root in roots:
            if real == root or real.startswith(root.rstrip('/') + '/'):
                return real
        if not write and real in self.DEVICES:
            return real
        refuse('%s %s outside the scratch directory' % ('writing' if write else 'reading', real))


def disarm_native_loading():
    """Keeps modules the sandbox refuses from being loaded around the import
    statement (importlib.util.module_from_spec, importlib.reload)."""
    create, execute = _imp.create_dynamic, _imp.exec_dynamic

    def create_dynamic(spec, *rest):
        if spec.name.partition('.')[0] in Sandbox.MODULES:
            refuse('loading module %s' % spec.name)
        return create(spec, *rest)

    def exec_dynamic(module):
        if getattr(module, '__name__', '').partition('.')[0] in Sandbox.MODULES:
            refuse('loading module %s' % module.__name__)
        return execute(module)

    _imp.create_dynamic = create_dynamic
    _imp.exec_dynamic = exec_dynamic

    def fork_exec(*args, **kwargs):
        refuse('process creation (_posixsubprocess.fork_exec)')

    _posixsubprocess.fork_exec = fork_exec


# ---------------------------------------------------------------- the REPL

class Interpreter:
    def __init__(self, channel, config):
        self.channel = channel
        self.output_limit = config['output_limit']
        self.display = config.get('display', False)
        self.cpu_limit = config['limits'].get('cpu', 0)
        self.recursion_limit = sys.getrecursionlimit()
        self.jobs = queue.Queue()
        self.calls = {}  # id -> [event, error, value] of host calls waiting for replies
        self.calls_lock = threading.Lock()
        self.call_ids = itertools.count(1)
        self.running = False  # the main thread is inside user code
        self.current = 0  # id of the cell the main thread runs or last ran
        self.interrupted = 0  # id of the last cell the host interrupted
        self.cell_lock = threading.Lock()  # orders running/current against interrupts
        self.protected = {}  # name -> object the host bound
        self.protected_lock = threading.Lock()
        self.sandbox = None

        module = types.ModuleType('__main__')
        module.__builtins__ = builtins
        sys.modules['__main__'] = module
        self.ns = module.__dict__
        for name in config.get('funcs') or ():
            self.bind(name, self.host_function(name))
        for name in config.get('batch_funcs') or ():
            self.bind(name, self.host_batch_function(name))

    # ---- host functions

    def host_function(self, name):
        def call(*args, **kwargs):
            return self.call_host({'op': 'call', 'name': name, 'args': list(args), 'kwargs': kwargs})
        call.__name__ = call.__qualname__ = name
        call.__doc__ = 'Host function %s: calls into the Go program.' % name
        return call

    def host_batch_function(self, name):
        def call(items):
            if isinstance(items, (str, bytes)) or not hasattr(items, '__iter__'):
                raise TypeError('%s() takes a list, not %s' % (name, type(items).__name__))
            return self.call_host({'op': 'call', 'name': name, 'batch': True, 'items': list(items)})
        call.__name__ = call.__qualname__ = name
        call.__doc__ = ('Batched host function %s: the Go program handles the items '
                        'concurrently and returns their results in order.' % name)
        return call

    def call_host(self, header):
        cid = next(self.call_ids)
        header['id'] = cid
        blob = detach_strings(header)
        frame = self.channel.encode(header, blob)  # ValueError in user code when too large
        slot = [threading.Event(), None, None]
        with self.calls_lock:
            self.calls[cid] = slot
        try:
            self.channel.write(frame)
            slot[0].wait()  # a SIGINT in the main thread interrupts this wait
        finally:
            with self.calls_lock:
                self.calls.pop(cid, None)
        if slot[1] is not None:
            raise HostError(slot[1])
        return slot[2]

    # ---- reader thread

    def read_loop(self):
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGINT_ONLY)
        try:
            while True:
                header, blob = self.channel.read()
                op = header['op']
                if op == 'ret':
                    with self.calls_lock:
                        slot = self.calls.get(header['id'])
                    if slot is not None:
                        slot[1] = header.get('error')
                        slot[2] = header.get('value')
                        slot[0].set()
                elif op == 'exec':
                    self.jobs.put(header)
                elif op == 'interrupt':
                    self.interrupt(header['id'])
                elif op == 'set':
                    self.reply(header['id'], self.handle_set, header, blob)
                elif op == 'get':
                    self.reply(header['id'], self.handle_get, header)
                else:
                    raise ChannelError('unknown op %r' % op)
        except BaseException:
            os._exit(EXIT_CHANNEL)

    def reply(self, rid, handler, *args):
        try:
            fields, blob = handler(*args)
            self.channel.send(dict(fields, op='reply', id=rid), blob)
        except ChannelError:
            raise
        except BaseException as e:
            self.channel.send({'op': 'reply', 'id': rid,
                               'error': '%s: %s' % (type(e).__name__, safe_str(e))})

    def handle_set(self, header, blob):
        name = header['name']
        if 'alias' in header:
            with self.protected_lock:
                value = self.protected[header['alias']]
        elif header.get('blob'):
            value = blob.decode('utf-8', 'replace') if blob is not None else ''
        else:
            value = header.get('value')
        self.bind(name, value)
        return {}, b''

    def handle_get(self, header):
        name = header['name']
        try:
            value = self.ns[name]
        except KeyError:
            return {'undefined': True, 'error': 'name %r is not defined' % name}, b''
        if isinstance(value, str) and len(value) >= BLOB_MIN:
            return {'blob': True}, utf8(value)
        return {'value': value}, b''

    def bind(self, name, value):
        with self.protected_lock:
            self.protected[name] = value
            self.ns[name] = value

    # ---- cells

    def on_sigint(self, signum, frame):
        if self.running:
            raise KeyboardInterrupt

    def interrupt(self, cid):
        """The host's interrupt of cell cid. It comes with a SIGINT, which
        also wakes blocking calls; this frame catches the cell if the signal
        came before the cell started, when the handler ignores it."""
        with self.cell_lock:
            if self.running and self.current == cid:
                _thread.interrupt_main()
            else:
                self.interrupted = cid

    def serve(self):
        while True:
            try:
                job = self.jobs.get()
            except KeyboardInterrupt:
                continue
            try:
                self.channel.send(self.run_cell(job))
            except BaseException:
                os._exit(EXIT_INTERNAL)

    def run_cell(self, job):
        cid = job['id']
        code = job['code']
        with self.cell_lock:
            self.current = cid
        filename = '<cell %d>' % cid
        out = Capture(self.output_limit)
        err = Capture(self.output_limit)
        sys.stdout = sys.__stdout__ = out
        sys.stderr = sys.__stderr__ = err
        before = dict(self.ns)
        self.limit_cpu()
        exc = None
        try:
            try:
                compiled, shown = compile_cell(code, filename, self.display and not job.get('protect'))
                linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
                with self.cell_lock:
                    self.running = True
                    interrupted = self.interrupted == cid
                if interrupted:
                    raise KeyboardInterrupt
                exec(compiled, self.ns)
                if shown is not None:
                    value = eval(shown, self.ns)
                    if value is not None:
                        print(repr(value))
            finally:
                self.running = False
        except BaseException as e:  # KeyboardInterrupt and SystemExit included
            self.running = False
            exc = e
        self.reset_process_state()

        report = {'op': 'done', 'id': cid}
        if exc is not None:
            report['exception'] = self.describe(exc)
            memory = isinstance(exc, MemoryError)
            exc = None  # frees the frames (and their locals) the traceback held
            if memory and not self.has_headroom():
                report['restart'] = 'memory exhausted'
        # list(dict.items()) copies without releasing the GIL: other threads
        # (the reader's Set, the cell's own threads) may change ns meanwhile.
        if job.get('protect'):
            with self.protected_lock:
                for name, value in list(self.ns.items()):
                    if not name.startswith('__') and before.get(name, self) is not value:
                        self.protected[name] = value
        report['restored'] = self.restore_protected()
        with self.protected_lock:
            protected = set(self.protected)
        report['changed'] = sorted(
            name for name, value in list(self.ns.items())
            if not name.startswith('__') and name not in protected
            and before.get(name, self) is not value)
        report['stdout'], report['stdout_cut'] = out.getvalue()
        report['stderr'], report['stderr_cut'] = err.getvalue()
        return report

    def describe(self, exc):
        try:
            te = traceback.TracebackException(type(exc), exc, exc.__traceback__)
            hide_bootstrap_frames(te)
            text = ''.join(te.format())
        except BaseException:
            text = '%s: %s\n' % (type(exc).__name__, safe_str(exc))
        if len(text) > self.output_limit:
            cut = len(text) - self.output_limit
            text = text[:self.output_limit // 2] + '\n[... %d characters cut ...]\n' % cut + \
                text[-self.output_limit // 2:]
        return {'type': type(exc).__name__, 'message': safe_str(exc), 'traceback': text}

    def has_headroom(self):
        try:
            bytearray(HEADROOM)
            return True
        except MemoryError:
            return False

    def restore_protected(self):
        restored = []
        with self.protected_lock:
            for name, value in self.protected.items():
                if self.ns.get(name, self) is not value:
                    self.ns[name] = value
                    restored.append(name)
        return sorted(restored)

    def reset_process_state(self):
        """Undoes what a cell may have changed about the interpreter itself."""
        if signal.getsignal(signal.SIGINT) is not self.on_sigint:
            signal.signal(signal.SIGINT, self.on_sigint)
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        sys.setrecursionlimit(self.recursion_limit)
        sys.stdin = io.StringIO()

    def limit_cpu(self):
        if self.cpu_limit <= 0:
            return
        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = int(usage.ru_utime + usage.ru_stime) + self.cpu_limit + 1
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        self.sandbox.privileged = True
        try:
            resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
        finally:
            self.sandbox.privileged = False


def compile_cell(code, filename, display):
    """Compiles a cell. With display, a last statement that is an expression
    (and does not end with a semicolon) is compiled apart, to be evaluated
    and shown as a notebook shows it; it returns (body, last or None)."""
    if display and not code.rstrip().endswith(';'):
        tree = compile(code, filename, 'exec', ast.PyCF_ONLY_AST, dont_inherit=True)
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
            return (compile(tree, filename, 'exec', dont_inherit=True),
                    compile(last, filename, 'eval', dont_inherit=True))
    return compile(code, filename, 'exec', dont_inherit=True), None


def hide_bootstrap_frames(te, seen=None):
    """Drops this file's frames (the cell runner above, the audit hook and
    host call plumbing below) from a TracebackException and its chain."""
    seen = seen if seen is not None else set()
    while te is not None and id(te) not in seen:
        seen.add(id(te))
        te.stack = traceback.StackSummary.from_list(
            [f for f in te.stack if f.filename != BOOTSTRAP_FILE])
        if te.__cause__ is not None:
            hide_bootstrap_frames(te.__cause__, seen)
        te = te.__context__


def set_limit(which, value, keep_hard=False):
    if not value or value <= 0:
        return
    _, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, hard if keep_hard else value))


def main(rfd=3, wfd=4):
    head = read_exact(rfd, FRAME.size)
    magic, hlen, blen = FRAME.unpack(head)
    config = json.loads(read_exact(rfd, hlen).decode('utf-8'))
    limits = config['limits']
    rfd, wfd = hide_fds(rfd, wfd, limits.get('nofile', 0))
    channel = Channel(rfd, wfd, magic, config['message_limit'])

    sys.path[:] = config['sys_path']
    sys.stdin = io.StringIO()
    sys.dont_write_bytecode = True
    faulthandler.enable()  # fatal errors go to the real stderr, which the host drains
    if not hasattr(builtins, 'exit'):  # the site module, which defines them, is not loaded
        def exit(code=None):
            raise SystemExit(code)
        builtins.exit = builtins.quit = exit

    repl = Interpreter(channel, config)
    signal.signal(signal.SIGINT, repl.on_sigint)
    threading.Thread(target=repl.read_loop, name='repl-host-channel', daemon=True).start()

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    set_limit(resource.RLIMIT_AS, limits.get('memory', 0))
    set_limit(resource.RLIMIT_NOFILE, limits.get('nofile', 0))
    set_limit(resource.RLIMIT_NPROC, limits.get('nproc', 0))
    set_limit(resource.RLIMIT_FSIZE, limits.get('fsize', 0))
    set_limit(resource.RLIMIT_CPU, limits.get('cpu', 0), keep_hard=True)

    sandbox = Sandbox(config['scratch'], config['read_roots'])
    repl.sandbox = sandbox
    disarm_native_loading()
    sys.addaudithook(sandbox.hook)

    channel.send({'op': 'hello', 'version': sys.version.split()[0], 'pid': os.getpid()})
    repl.serve()


main()
