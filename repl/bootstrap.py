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
import binascii
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
        return '<unprintable %s>' % type_name(type(value))


TYPE_NAME = type.__dict__['__name__']


def type_name(t):
    """The name of a type, read without running code of its metaclass."""
    return TYPE_NAME.__get__(t, type)


def inert(value, depth=0, active=()):
    """Returns value as JSON carries it without running any Python code of
    the cell's: exact built-in types only (a subclass of str or dict may
    override what the JSON encoder calls), so that a Get served by the reader
    thread can never be stalled by a cell's __str__ or __eq__. Sets come back
    as lists; bytes, complex numbers, ranges, classes and functions as their
    repr(); other objects as a placeholder that names their type."""
    t = type(value)
    if value is None or t is bool or t is str:
        return value
    if t is int:
        if -(1 << 63) <= value < (1 << 63):
            return value
        try:
            return int.__repr__(value)
        except ValueError:  # more digits than sys.get_int_max_str_digits()
            return '<int of %d bits>' % int.bit_length(value)
    if t is float:
        return value if math.isfinite(value) else float.__repr__(value)
    if t in (bytes, bytearray, complex, range, type, types.FunctionType, types.BuiltinFunctionType):
        return t.__repr__(value)  # C code that reads the object's own fields only
    if t in (list, tuple, dict, set, frozenset):
        if depth > 100 or any(value is a for a in active):
            return '<%s nested too deep>' % type_name(t)
        active = active + (value,)
        if t is dict:
            out = {}
            for k, v in list(dict.items(value)):
                tk = type(k)
                if tk is str:
                    key = k
                elif k is None or tk in (bool, int, float):
                    key = inert(k)
                    key = key if type(key) is str else json.dumps(key)
                else:
                    key = '<%s object>' % type_name(tk)
                out[key] = inert(v, depth + 1, active)
            return out
        return [inert(v, depth + 1, active) for v in list(value)]
    return '<%s object>' % type_name(t)


MAX_NAMES = 1000  # changed and restored names listed per cell
MAX_NAME = 200  # characters of one listed name


def cap_names(names):
    """Sorted names, at most MAX_NAMES of them, and how many more there were."""
    names = sorted(n if len(n) <= MAX_NAME else n[:MAX_NAME] + '...' for n in names)
    return names[:MAX_NAMES], max(len(names) - MAX_NAMES, 0)


def cap_text(text, limit):
    """The first and last halves of text when it is longer than limit."""
    if len(text) <= limit:
        return text
    cut = len(text) - limit
    return text[:limit // 2] + '\n[... %d characters cut ...]\n' % cut + text[len(text) - limit // 2:]


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

class TextSink(io.TextIOBase):
    """A UTF-8 text stream that is written to, never read: what Capture and
    Router share."""

    encoding = 'utf-8'
    errors = 'strict'

    def writable(self):
        return True

    def isatty(self):
        return False

    def flush(self):
        pass


class Capture(TextSink):
    """A text stream that keeps at most limit characters and counts the rest."""

    def __init__(self, limit):
        super().__init__()
        self.limit = limit
        self.parts = []
        self.kept = 0
        self.cut = 0
        self.lock = threading.Lock()
        self.buffer = BinaryCapture(self)

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError('write() argument must be str, not %s' % type_name(type(s)))
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


class Router(TextSink):
    """sys.stdout or sys.stderr: what a thread writes goes to the capture of
    the running cell if the thread belongs to that cell (the main thread, or
    a thread started since the cell began). Writes of threads an earlier cell
    left running, and every write between cells, are dropped."""

    def __init__(self, repl, index):
        super().__init__()
        self.repl = repl
        self.index = index
        self.buffer = BinaryCapture(self)

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError('write() argument must be str, not %s' % type_name(type(s)))
        capture = self.repl.capture(self.index)
        if capture is None:
            return len(s)
        return capture.write(s)


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


# ---------------------------------------------------------------- protected names

EMPTY = object()  # the contents of an empty closure cell
FREEZE_MAX = 100_000  # containers with more items are protected by identity only


def freeze(value, budget):
    """A deep copy of a container of exact built-in types, leaves shared, or
    None if it holds anything else or too many items. budget is a one-item
    list counting down."""
    t = type(value)
    if value is None or t in (bool, int, float, str, bytes, complex):
        return value
    if t not in (list, tuple, dict):
        raise TypeError
    budget[0] -= len(value)
    if budget[0] < 0:
        raise TypeError
    if t is dict:
        if any(type(k) not in (str, int, float, bool) for k in dict.keys(value)):
            raise TypeError
        return {k: freeze(v, budget) for k, v in dict.items(value)}
    return t(freeze(v, budget) for v in value)


def same_plain(a, b):
    """Compares two values built by freeze without running a cell's code."""
    t = type(a)
    if t is not type(b):
        return False
    if a is None or t in (bool, int, float, str, bytes, complex):
        return t.__eq__(a, b) is True or (t is float and a != a and b != b)
    if len(a) != len(b):
        return False
    if t is dict:
        for k, v in dict.items(a):
            if not dict.__contains__(b, k) or not same_plain(v, dict.__getitem__(b, k)):
                return False
        return True
    return all(same_plain(x, y) for x, y in zip(a, b))


def cell_value(cell):
    try:
        return cell.cell_contents
    except ValueError:
        return EMPTY


class Guard:
    """A protected name's value, and the state of it that a cell could change
    in place without rebinding the name: a function's code, defaults and
    closure cells, a container's items. Checked by identity and by value."""

    def __init__(self, value):
        self.value = value
        self.function = None
        self.frozen = None
        if type(value) is types.FunctionType:
            kw = value.__kwdefaults__
            self.function = (value.__code__, value.__defaults__, None if kw is None else dict(kw),
                             tuple(cell_value(c) for c in value.__closure__ or ()))
        elif type(value) in (list, tuple, dict):
            try:
                self.frozen = freeze(value, [FREEZE_MAX])
            except (TypeError, RecursionError):
                pass

    def intact(self, current):
        if current is not self.value:
            return False
        if self.function is not None:
            f = self.value
            code, defaults, kw, cells = self.function
            if f.__code__ is not code or f.__defaults__ is not defaults:
                return False
            now = f.__kwdefaults__
            if (now is None) != (kw is None) or (kw is not None and (
                    len(now) != len(kw) or any(dict.get(now, k, EMPTY) is not v for k, v in kw.items()))):
                return False
            return all(cell_value(c) is v for c, v in zip(f.__closure__ or (), cells))
        if self.frozen is not None:
            return same_plain(self.value, self.frozen)
        return True

    def restore(self):
        if self.function is not None:
            f = self.value
            code, defaults, kw, cells = self.function
            f.__code__ = code
            f.__defaults__ = defaults
            f.__kwdefaults__ = None if kw is None else dict(kw)
            for c, v in zip(f.__closure__ or (), cells):
                if v is EMPTY:
                    try:
                        del c.cell_contents
                    except ValueError:
                        pass
                else:
                    c.cell_contents = v
        elif self.frozen is not None and not same_plain(self.value, self.frozen):
            self.value = freeze(self.frozen, [FREEZE_MAX])  # a fresh copy: the snapshot stays private
        return self.value


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
        self.protected = {}  # name -> Guard of the object the host bound
        self.protected_lock = threading.Lock()
        self.sandbox = None
        self.captures = None  # (stdout, stderr) of the running cell
        self.stale = frozenset()  # threads that existed when the running cell began
        self.router = (Router(self, 0), Router(self, 1))

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

    def owns_thread(self):
        """Whether the calling thread belongs to the running cell: the main
        thread, or a thread started since the cell began."""
        ident = threading.get_ident()
        return ident == MAIN_THREAD or (self.captures is not None and ident not in self.stale)

    def capture(self, index):
        captures = self.captures
        if captures is None or not self.owns_thread():
            return None
        return captures[index]

    def call_host(self, header):
        if not self.owns_thread():
            raise HostError('host function %s called by a thread that an earlier cell left running'
                            % header.get('name'))
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
                value = self.protected[header['alias']].value
        elif header.get('blob'):
            value = blob.decode('utf-8', 'replace') if blob is not None else ''
        else:
            value = header.get('value')
        self.bind(name, value)
        return {}, b''

    def handle_get(self, header):
        name = header['name']
        # A scan rather than a lookup: a lookup may call __eq__ of a key a
        # cell planted (a str subclass with the same hash).
        for key, value in list(dict.items(self.ns)):
            if type(key) is str and str.__eq__(key, name):
                break
        else:
            return {'undefined': True, 'error': 'name %r is not defined' % name}, b''
        if type(value) is str and len(value) >= BLOB_MIN:
            return {'blob': True}, utf8(value)
        return {'value': inert(value)}, b''

    def bind(self, name, value):
        with self.protected_lock:
            self.protected[name] = Guard(value)
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
        self.stale = frozenset(sys._current_frames()) - {MAIN_THREAD}
        self.captures = (out, err)
        sys.stdout = sys.__stdout__ = self.router[0]
        sys.stderr = sys.__stderr__ = self.router[1]
        # Exact strings only: a lookup in a dict holding a key a cell planted
        # (a str subclass) could call its __eq__.
        before = {k: v for k, v in list(dict.items(self.ns)) if type(k) is str}
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
        # The threads this cell started and left running: from now on their
        # output is dropped and their host calls refused.
        self.captures = None
        report['threads'] = len(frozenset(sys._current_frames()) - self.stale - {MAIN_THREAD})
        # list(dict.items()) copies without releasing the GIL: other threads
        # (the reader's Set, the cell's own threads) may change ns meanwhile.
        # Names are read as exact strings: a str subclass as a key of the
        # namespace must not run its methods here.
        items = list(dict.items(self.ns))
        if any(type(name) is not str for name, _ in items):
            self.purge_keys(items)
        items = [(name, value) for name, value in items if type(name) is str]
        if job.get('protect'):
            with self.protected_lock:
                for name, value in items:
                    if not name.startswith('__') and before.get(name, self) is not value:
                        self.protected[name] = Guard(value)
        report['restored'], _ = cap_names(self.restore_protected())
        with self.protected_lock:
            protected = set(self.protected)
        report['changed'], report['changed_cut'] = cap_names(
            name for name, value in items
            if not name.startswith('__') and name not in protected
            and before.get(name, self) is not value)
        report['stdout'], report['stdout_cut'] = out.getvalue()
        report['stderr'], report['stderr_cut'] = err.getvalue()
        return report

    def describe(self, exc):
        name = type_name(type(exc))
        try:
            te = traceback.TracebackException(type(exc), exc, exc.__traceback__)
            hide_bootstrap_frames(te)
            text = ''.join(te.format())
        except BaseException:
            text = '%s: %s\n' % (name, safe_str(exc))
        return {'type': cap_text(name, MAX_NAME), 'message': cap_text(safe_str(exc), self.output_limit),
                'traceback': cap_text(text, self.output_limit)}

    def has_headroom(self):
        try:
            bytearray(HEADROOM)
            return True
        except MemoryError:
            return False

    def purge_keys(self, items):
        """Keeps only exact strings as the namespace's keys, so that looking
        a name up (a Set from the reader thread) can never call the __eq__
        of a key a cell planted. Clearing and refilling calls no such code."""
        with self.protected_lock:
            dict.clear(self.ns)
            for name, value in items:
                if type(name) is str:
                    dict.__setitem__(self.ns, name, value)

    def restore_protected(self):
        """Puts back every protected name that a cell rebound, deleted or
        changed in place, and returns their names."""
        restored = []
        with self.protected_lock:
            for name, guard in self.protected.items():
                if not guard.intact(dict.get(self.ns, name, EMPTY)):
                    self.ns[name] = guard.restore()
                    restored.append(name)
        return restored

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


# ---------------------------------------------------------------- kernel confinement
#
# The host plans, this process executes, before any cell runs and while it
# has one thread: (new namespaces, made by the host's clone) -> mounts ->
# rlimits -> capabilities dropped -> no_new_privs -> Landlock -> seccomp ->
# audit hook. The kernel keeps every one of these for the life of the process
# and of every thread it starts; nothing a cell does can take them back. Each
# step records what it achieved, or why it failed, for the host's report.

PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
LINUX_CAPABILITY_VERSION_3 = 0x20080522
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 1 << 14, 1 << 18
LANDLOCK_CREATE_RULESET, LANDLOCK_ADD_RULE, LANDLOCK_RESTRICT_SELF = 444, 445, 446
LANDLOCK_RULE_PATH_BENEATH = 1
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1


class Kernel:
    """Raw system calls through ctypes, used only here, before any cell."""

    def __init__(self, numbers):
        import ctypes  # before the audit hook exists; removed from sys.modules afterwards
        self.ctypes = ctypes
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.syscall.restype = ctypes.c_long
        self.nr = numbers
        self.buffers = []  # keeps the memory passed by address alive until the call returns

    def arg(self, a):
        if a is None:
            return None
        if isinstance(a, int):
            return self.ctypes.c_long(a)
        buf = self.ctypes.create_string_buffer(bytes(a))  # NUL-terminated, for paths
        self.buffers.append(buf)
        return buf

    def call(self, nr, *args):
        self.buffers = []
        try:
            r = self.libc.syscall(self.ctypes.c_long(nr), *[self.arg(a) for a in args])
            if r < 0:
                e = self.ctypes.get_errno()
                raise OSError(e, os.strerror(e))
            return r
        finally:
            self.buffers = []

    def address(self, data):
        """A buffer holding data, and its address, for structures that point."""
        buf = self.ctypes.create_string_buffer(bytes(data), len(data))
        return buf, self.ctypes.addressof(buf)


def thread_count():
    try:
        return len(os.listdir('/proc/self/task'))
    except OSError:
        return threading.active_count()


def enter_namespaces(plan, status_fd, report):
    """In new namespaces (the host cloned this process into them): make the
    mounts private, put a size-limited tmpfs on the scratch directory and a
    procfs of the new pid namespace on /proc, then fork. This process stays
    behind as the namespace's init (pid 1, which the kernel treats apart:
    it ignores signals it has no handler for, so the REPL must not be it) and
    relays the REPL's exit status to the host; the child goes on as the
    REPL."""
    if not plan.get('namespaces'):
        os.close(status_fd)
        return
    if os.getpid() != 1:
        os.close(status_fd)
        report['errors']['mounts'] = 'not the first process of a new pid namespace (pid %d)' % os.getpid()
        return
    kernel = Kernel(plan['syscalls'])
    mount = plan['syscalls']['mount']
    try:
        kernel.call(mount, None, b'/', None, MS_REC | MS_PRIVATE, None)
        quota = plan.get('scratch_quota', 0)
        if quota > 0:
            kernel.call(mount, b'tmpfs', os.fsencode(plan['scratch']), b'tmpfs',
                        MS_NOSUID | MS_NODEV | MS_NOEXEC, b'size=%d,mode=0700' % quota)
            report['scratch_quota'] = quota
            os.chdir(plan['scratch'])  # the working directory was the directory beneath the mount
        try:
            kernel.call(mount, b'proc', b'/proc', b'proc', MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
        except OSError:
            pass  # the host's procfs stays; Landlock keeps it out of reach
    except OSError as e:
        report['errors']['mounts'] = str(e)
    del kernel
    pid = os.fork()
    if pid:
        be_init(pid, status_fd)
    os.close(status_fd)
    report['namespaces'] = True


def be_init(child, status_fd):
    """The init of the REPL's pid namespace: forwards SIGINT, reaps, and
    writes the REPL's wait status to the host before it exits (its own exit
    kills whatever else is left in the namespace)."""
    def forward(signum, frame):
        try:
            os.kill(child, signal.SIGINT)
        except OSError:
            pass
    signal.signal(signal.SIGINT, forward)
    os.closerange(0, status_fd)
    os.closerange(status_fd + 1, 1 << 20)
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(0)
        if pid == child:
            try:
                os.write(status_fd, struct.pack('>i', status))
            finally:
                os._exit(0)


def confine(plan, report):
    """Drops capabilities, sets no_new_privs, then Landlock and seccomp."""
    errors = report['errors']
    if not plan.get('kernel'):
        return
    if thread_count() != 1:
        errors['threads'] = 'the process has %d threads before confinement' % thread_count()
        return
    try:
        kernel = Kernel(plan['syscalls'])
    except Exception as e:  # an interpreter without ctypes
        for layer in ('capabilities', 'no_new_privs', 'landlock', 'seccomp'):
            errors[layer] = 'ctypes is not available: %s' % e
        return
    nr = plan['syscalls']
    try:
        status = os.open('/proc/self/status', os.O_RDONLY | os.O_CLOEXEC)  # read back after Landlock
    except OSError:
        status = None
    try:
        drop_capabilities(kernel, nr)
    except OSError as e:
        errors['capabilities'] = str(e)
    try:
        kernel.call(nr['prctl'], PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    except OSError as e:
        errors['no_new_privs'] = str(e)
    ll = plan.get('landlock')
    if ll:
        try:
            restrict_filesystem(kernel, ll)
            report['landlock'] = ll['abi']
        except OSError as e:
            errors['landlock'] = str(e)
    program = plan.get('seccomp')
    if program:
        try:
            filter_syscalls(kernel, nr, binascii.a2b_base64(program))
        except OSError as e:
            errors['seccomp'] = str(e)
    del kernel
    for name in [m for m in sys.modules if m == 'ctypes' or m.startswith('ctypes.') or m == '_ctypes']:
        del sys.modules[name]
    if status is not None:
        # What the kernel says is in force, rather than what the calls returned.
        fields = dict(line.split(':', 1) for line in os.pread(status, 1 << 16, 0).decode().splitlines() if ':' in line)
        os.close(status)
        report['no_new_privs'] = fields.get('NoNewPrivs', '').strip() == '1'
        report['seccomp'] = fields.get('Seccomp', '').strip() == '2'
        report['capabilities'] = fields.get('CapEff', '').strip().strip('0') == ''


def drop_capabilities(kernel, nr):
    """Empties the bounding, ambient, effective, permitted and inheritable
    sets (root in the user namespace starts with all of them)."""
    for cap in range(64):
        try:
            kernel.call(nr['prctl'], PR_CAPBSET_DROP, cap, 0, 0, 0)
        except OSError as e:
            if e.errno == 22:  # EINVAL: past the last capability
                break
            if e.errno != 1:  # EPERM: no CAP_SETPCAP, so nothing to drop
                raise
    try:
        kernel.call(nr['prctl'], PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    except OSError as e:
        if e.errno != 22:  # kernels before 4.3 have no ambient set
            raise
    header = struct.pack('=Ii', LINUX_CAPABILITY_VERSION_3, 0)
    data = bytes(24)  # two of {effective, permitted, inheritable}
    kernel.call(nr['capset'], header, data)


def restrict_filesystem(kernel, ll):
    attr = struct.pack('<QQQ', ll['handled_fs'], ll['handled_net'], ll['scoped'])[:ll['attr_size']]
    ruleset = kernel.call(LANDLOCK_CREATE_RULESET, attr, len(attr), 0)
    try:
        for rule in ll['rules']:
            try:
                fd = os.open(rule['path'], os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # absent here: nothing to grant
            try:
                access = rule['access']
                if not stat.S_ISDIR(os.fstat(fd).st_mode):
                    access &= ll['file_rights']
                kernel.call(LANDLOCK_ADD_RULE, ruleset, LANDLOCK_RULE_PATH_BENEATH,
                            struct.pack('<Qi', access, fd), 0)
            except OSError as e:
                raise OSError(e.errno, 'rule for %s: %s' % (rule['path'], e.strerror))
            finally:
                os.close(fd)
        kernel.call(LANDLOCK_RESTRICT_SELF, ruleset, 0)
    finally:
        os.close(ruleset)


def filter_syscalls(kernel, nr, program):
    buf, address = kernel.address(program)
    fprog = struct.pack('=H6xQ', len(program) // 8, address)  # struct sock_fprog
    r = kernel.call(nr['seccomp'], SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, fprog)
    del buf
    if r != 0:
        raise OSError(0, 'thread %d could not be synchronized' % r)


def main(rfd=3, wfd=4, status_fd=5):
    head = read_exact(rfd, FRAME.size)
    magic, hlen, blen = FRAME.unpack(head)
    config = json.loads(read_exact(rfd, hlen).decode('utf-8'))
    limits = config['limits']
    plan = config['confine']
    report = {'errors': {}}
    enter_namespaces(plan, status_fd, report)
    if plan.get('self') and os.getpid() != plan['self']:
        report['errors']['seccomp'] = 'pid %d, not the %d the filter was built for' % (os.getpid(), plan['self'])
        plan['seccomp'] = None
    rfd, wfd = hide_fds(rfd, wfd, limits.get('nofile', 0))
    channel = Channel(rfd, wfd, magic, config['message_limit'])

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    set_limit(resource.RLIMIT_AS, limits.get('memory', 0))
    set_limit(resource.RLIMIT_NOFILE, limits.get('nofile', 0))
    set_limit(resource.RLIMIT_NPROC, limits.get('nproc', 0))
    set_limit(resource.RLIMIT_FSIZE, limits.get('fsize', 0))
    set_limit(resource.RLIMIT_CPU, limits.get('cpu', 0), keep_hard=True)
    confine(plan, report)

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
    sandbox = Sandbox(config['scratch'], config['read_roots'])
    repl.sandbox = sandbox
    disarm_native_loading()
    sys.addaudithook(sandbox.hook)
    threading.Thread(target=repl.read_loop, name='repl-host-channel', daemon=True).start()

    channel.send({'op': 'hello', 'version': sys.version.split()[0], 'pid': os.getpid(), 'layers': report})
    repl.serve()


main()
