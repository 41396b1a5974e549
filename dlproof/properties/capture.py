"""What a capability call prints, captured and counted: Python-level ``sys.stdout``/``sys.stderr`` (counting
sinks that keep only the first 80 characters) and file descriptors 1 and 2 (redirected to a temporary file
of this process, reused across calls, for C code, ``os.write`` and subprocesses). Memory stays bounded
whatever a target prints; over the limit the suite reports a failure (`assertions.call`).
"""
from __future__ import annotations

import io
import os
import sys
import tempfile


class _BinarySink(io.RawIOBase):
    """``sys.stdout.buffer`` of a `_Sink`: bytes count towards the same total."""

    def __init__(self, text):
        self._text = text

    def writable(self):
        return True

    def write(self, b):
        view = memoryview(b)
        self._text._count(view.nbytes, lambda: view.tobytes()[:80].decode("utf-8", "replace"))
        return view.nbytes


class _Sink(io.TextIOBase):
    """A stand-in for sys.stdout / sys.stderr: counts what is written (UTF-8 bytes), keeps its first 80
    characters, drops the rest. Memory stays bounded whatever a target prints. ``fileno()`` is the real
    stream's, for code that needs a file descriptor (during a call that descriptor is captured too)."""

    encoding, errors = "utf-8", "strict"

    def __init__(self, name: str, real):
        self.name, self.size, self.head, self._real, self._buffer = name, 0, "", real, None

    @property
    def buffer(self):
        if self._buffer is None:
            self._buffer = _BinarySink(self)
        return self._buffer

    def writable(self):
        return True

    def isatty(self):
        return False

    def fileno(self):
        return self._real.fileno()

    def _count(self, n: int, head):
        self.size += n
        if len(self.head) < 80:
            self.head = (self.head + head())[:80]

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        self._count(len(s) if s.isascii() else len(s.encode("utf-8", "surrogatepass")), lambda: s[:80])
        return len(s)


_FD_FILES: dict = {}  # (pid, fd) -> descriptor of this process' temporary file for that fd (reused across calls)
_LIBC = []  # [ctypes libc] once loaded, [None] where there is none


def _flush_c_stdio() -> None:
    """fflush(NULL): what C code left in stdio buffers goes to the descriptors now, while they are captured."""
    if not _LIBC:
        try:
            import ctypes

            libc = ctypes.CDLL(None)
            libc.fflush.argtypes = [ctypes.c_void_p]
            _LIBC.append(libc)
        except (OSError, AttributeError):  # no C library to speak of (e.g. Windows)
            _LIBC.append(None)
    if _LIBC[0] is not None:
        _LIBC[0].fflush(None)


def _flush_python_streams() -> None:
    for stream in (sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # closed or broken: nothing to keep
            pass


class _FdCapture:
    """During a call, file descriptors 1 and 2 point at a temporary file of this process (one per descriptor,
    emptied and reused at each call): what C code, ``os.write(1, ...)`` or a subprocess writes there is counted
    (size and first 80 bytes) and dropped. `stop` puts the original descriptors back; it is idempotent."""

    def __init__(self):
        self.saved = {}

    def start(self) -> None:
        _flush_python_streams()
        _flush_c_stdio()
        for fd in (1, 2):
            try:
                saved = os.dup(fd)
            except OSError:  # the descriptor is not open: nothing to capture
                continue
            tmp = _FD_FILES.get((os.getpid(), fd))
            if tmp is None:
                tmp = _FD_FILES[(os.getpid(), fd)] = _new_tempfile()
            os.ftruncate(tmp, 0)
            os.lseek(tmp, 0, os.SEEK_SET)
            try:
                os.dup2(tmp, fd)
            except OSError:
                os.close(saved)
                continue
            self.saved[fd] = (saved, tmp)

    def stop(self) -> dict:
        """Restore the descriptors; {fd: (bytes written, first 80 characters)}."""
        if not self.saved:
            return {}
        try:
            _flush_python_streams()
            _flush_c_stdio()
        finally:
            out = {}
            saved, self.saved = self.saved, {}
            for fd, (orig, tmp) in saved.items():
                try:
                    os.dup2(orig, fd)
                finally:
                    os.close(orig)
                size = os.fstat(tmp).st_size
                head = ""
                if size:
                    os.lseek(tmp, 0, os.SEEK_SET)
                    head = os.read(tmp, 80).decode("utf-8", "replace")
                os.ftruncate(tmp, 0)
                out[fd] = (size, head)
        return out


def _new_tempfile() -> int:
    """A descriptor of an anonymous temporary file (unlinked at once), kept open for this process."""
    fd, path = tempfile.mkstemp(prefix="dlproof-output-")
    try:
        os.unlink(path)
    except OSError:  # pragma: no cover - e.g. Windows: it stays until exit
        pass
    return fd


class CapturedOutput:
    """``with CapturedOutput() as out:`` sends Python-level sys.stdout/sys.stderr to counting `_Sink`s and, with
    ``fd=True`` (the default), file descriptors 1 and 2 to temporary files (`_FdCapture`), so output from C code
    and subprocesses is counted too; ``out.over(limit)`` names a stream whose total is over it. Everything is
    restored on every path (`restore` is idempotent)."""

    def __init__(self, fd: bool = True):
        self.saved = sys.stdout, sys.stderr
        self.sinks = ()
        self._fd = _FdCapture() if fd else None
        self.fd_sizes = {}

    def start(self):
        self.saved = sys.stdout, sys.stderr
        self.sinks = _Sink("stdout", sys.stdout), _Sink("stderr", sys.stderr)
        if self._fd is not None:
            self._fd.start()
        sys.stdout, sys.stderr = self.sinks
        return self

    def restore(self):
        try:
            if self._fd is not None:
                self.fd_sizes.update(self._fd.stop())
        finally:
            sys.stdout, sys.stderr = self.saved

    __enter__ = start

    def __exit__(self, *exc):
        self.restore()
        return False

    def over(self, limit: int):
        """(stream, bytes, first characters) of the first stream that got more than ``limit`` bytes (Python-level
        writes and writes to its file descriptor together), else None."""
        for fd, sink in enumerate(self.sinks, start=1):
            size, head = self.fd_sizes.get(fd, (0, ""))
            if sink.size + size > limit:
                return sink.name, sink.size + size, (sink.head + head)[:80]
        return None


def _size(n: int) -> str:
    for unit, k in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= k:
            return f"{n / k:.3g} {unit}"
    return f"{n} bytes"
