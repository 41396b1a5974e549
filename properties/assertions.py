"""Assertion helpers with one message shape:

``{quantity}: {what is wrong}, but should be {expected} [{target} :: {property}]``

Shapes and dtypes are checked before values; values are compared vectorised against entry-wise
tolerances and the worst entry is reported only on failure.
"""
from __future__ import annotations

import io
import signal
import sys
import threading

import numpy as np

#: seconds one capability call may take before it is a failure (set by --dlproof-call-timeout)
CALL_TIMEOUT = 30.0
#: bytes one capability call may write to each of sys.stdout and sys.stderr (captured, then dropped);
#: more is a failure, so a chatty target cannot flood the terminal or the report
OUTPUT_LIMIT = 1 << 20


class PropertyFailure(AssertionError):
    """The target's output contradicts a derivation.

    ``part`` names what is wrong: "forward", "backward" or "both" (None: not known or not applicable);
    ``likely_bug`` names a known bug pattern the output matches (None: no known pattern matched). The
    harness copies both into the result row.
    """

    def __init__(self, message: str = "", *, part: str | None = None, likely_bug: str | None = None):
        super().__init__(message)
        self.part, self.likely_bug = part, likely_bug


class TargetRaised(Exception):
    """The target raised: the property's verdict is "error"."""

    def __init__(self, capability: str, exc: BaseException, where: str = ""):
        self.capability, self.exc = capability, exc
        tail = f", but should return its result {where}" if where else ""
        super().__init__(f"{capability} raised {type(exc).__name__}: {exc}{tail}")


class TargetTimeout(PropertyFailure):
    """A capability did not return within CALL_TIMEOUT seconds (verdict "fail")."""


class OutputFlood(Exception):
    """Raised by an isolated worker's proxy (dlproof.isolate): the call wrote more than the output limit."""

    def __init__(self, stream: str, size: int, head: str):
        self.stream, self.size, self.head = stream, size, head
        super().__init__(f"wrote {size} bytes to {stream}")


#: called with the capability name just before each capability call (the runner records it, so a crash or a
#: hang in native code can be blamed on the call in progress); None: nothing is recorded
CALL_HOOK = None


def drain_warnings() -> list:
    """The warnings the target's calls raised since the last drain, as short texts (recorded in the result row,
    never turned into errors)."""
    return []


_HUNG: set = set()  # (target name, capability) that already hung once in this process
_RUNNING = {"target": None, "property": None}  # set by each Checker: names the property in `call`'s messages


def _where(target) -> str:
    """``[target :: property]`` while a Checker of this target is the latest one, else ``[target]``."""
    if _RUNNING["target"] == target.name and _RUNNING["property"]:
        return f"[{target.name} :: {_RUNNING['property']}]"
    return f"[{target.name}]"


class _Alarm(BaseException):
    """Raised by the timer inside the target; a BaseException so a target's `except Exception` cannot eat it."""


def _arrays(obj, path):
    """(path, array) for every ndarray in nested args (tuples, lists, dicts)."""
    if isinstance(obj, np.ndarray):
        yield path, obj
    elif isinstance(obj, (list, tuple)):
        for i, o in enumerate(obj):
            yield from _arrays(o, f"{path}[{i}]")
    elif isinstance(obj, dict):
        for k, o in obj.items():
            yield from _arrays(o, f"{path}[{k!r}]")


def _snapshot(a: np.ndarray):
    """What `_changed` compares against: shape, dtype and a byte copy (a plain copy for object arrays)."""
    return (a.shape, a.dtype, a.copy() if a.dtype.hasobject else a.tobytes())


def _changed(a: np.ndarray, snap) -> bool:
    """Whether ``a`` differs from its snapshot in shape or value (NaN equals NaN). Equal bytes are the fast
    path; a byte difference falls back to comparing values, so -0.0 for 0.0 or another NaN payload is no change."""
    shape, dtype, before = snap
    if a.shape != shape:
        return True
    if isinstance(before, bytes):
        if a.dtype == dtype and a.tobytes() == before:
            return False
        before = np.frombuffer(before, dtype).reshape(shape)
    return not np.array_equal(a, before, equal_nan=True)


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
    stream's, for code that needs a file descriptor (what it writes there is not counted)."""

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


class CapturedOutput:
    """``with CapturedOutput() as out:`` sends Python-level sys.stdout/sys.stderr to counting `_Sink`s
    (what C code writes to file descriptors 1 and 2 is not seen); ``out.over(limit)`` names a stream over it."""

    def __init__(self):
        self.saved = sys.stdout, sys.stderr

    def __enter__(self):
        self.saved = sys.stdout, sys.stderr
        self.sinks = _Sink("stdout", sys.stdout), _Sink("stderr", sys.stderr)
        sys.stdout, sys.stderr = self.sinks
        return self

    def __exit__(self, *exc):
        sys.stdout, sys.stderr = self.saved
        return False

    def over(self, limit: int):
        """(stream, bytes, first characters) of the first stream that got more than ``limit`` bytes, else None."""
        for sink in self.sinks:
            if sink.size > limit:
                return sink.name, sink.size, sink.head
        return None


def _size(n: int) -> str:
    for unit, k in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= k:
            return f"{n / k:.3g} {unit}"
    return f"{n} bytes"


def _timer(seconds):
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer") or not seconds:
        return None

    def handler(signum, frame):
        raise _Alarm()

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    return old


def call(target, capability: str, *args):
    """Call a target capability with a time limit; check it left its inputs alone and printed little.

    Exceptions become TargetRaised (verdict "error"); a call over CALL_TIMEOUT seconds, one that
    mutates an input array in place, or one that writes more than OUTPUT_LIMIT bytes to sys.stdout or
    sys.stderr (captured and dropped, small prints included) is a failure. (A hang inside C code that
    never returns to Python needs ``--dlproof-isolate``.)
    """
    fn = getattr(target, capability)
    hung = (target.name, capability) in _HUNG  # an earlier call hung: do not wait again (shrinking replays)
    flood = None
    if not hung:
        snapshot = [(p, a, _snapshot(a)) for p, a in _arrays(args, "args")]
        captured = CapturedOutput()
        old = _timer(CALL_TIMEOUT)
        try:
            with captured:
                out = fn(*args)
        except (_Alarm, TimeoutError):  # TimeoutError: an isolated worker that hung (dlproof.isolate)
            hung = True
            _HUNG.add((target.name, capability))
        except OutputFlood as exc:  # an isolated worker's call printed too much (dlproof.isolate)
            flood = exc.stream, exc.size, exc.head
        except Exception as exc:  # noqa: BLE001 - whatever the target raises is reported, not re-raised
            raise TargetRaised(capability, exc, _where(target)) from exc
        finally:
            try:
                if old is not None:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                    signal.signal(signal.SIGALRM, old)
            finally:
                sys.stdout, sys.stderr = captured.saved  # also if the alarm fired on the way out
    if hung:  # one raise site, so Hypothesis sees the same failure on every replay
        raise TargetTimeout(f"{capability}: did not return within {CALL_TIMEOUT:g} s (a hung capability is "
                            f"not called again), but should return {_where(target)}")
    flood = flood or captured.over(OUTPUT_LIMIT)
    if flood:
        stream, size, head = flood
        raise PropertyFailure(f"{capability}: wrote {_size(size)} to {stream} during one call (limit "
                              f"{_size(OUTPUT_LIMIT)}; it begins {head[:40]!r}), but should write at most "
                              f"{_size(OUTPUT_LIMIT)} per call: the suite captures and drops what a capability "
                              f"prints {_where(target)}")
    for path, a, before in snapshot:
        if _changed(a, before):
            names = ", ".join(_SIGNATURE_HINT.get(capability, ()))
            raise PropertyFailure(f"{capability}: mutated its input {path} in place, but should leave its "
                                  f"inputs unchanged{f' (arguments: {names})' if names else ''} {_where(target)}")
    return out


_SIGNATURE_HINT = {
    "rnn": ("xs", "h0", "p"), "gru": ("xs", "h0", "p"), "lstm": ("xs", "h0", "c0", "p"),
    "rnn_vjp": ("xs", "h0", "p", "d_hs", "d_hT"), "gru_vjp": ("xs", "h0", "p", "d_hs", "d_hT"),
    "lstm_vjp": ("xs", "h0", "c0", "p", "d_hs", "d_hT", "d_cT"), "clip_grad_norm": ("grads", "max_norm"),
    "clip_grad_value": ("grads", "clip_value"),
}


class Checker:
    """Bound to one (target, property): checks outputs and tracks the worst error/tolerance ratio."""

    def __init__(self, target, prop: str):
        self.target, self.prop = target, prop
        self.worst = 0.0
        _RUNNING.update(target=target.name, property=prop)  # for the messages of `call`

    def fail(self, quantity: str, msg: str, *, part: str | None = None, likely_bug: str | None = None):
        __tracebackhide__ = True
        raise PropertyFailure(f"{quantity}: {msg} [{self.target.name} :: {self.prop}]", part=part,
                              likely_bug=likely_bug)

    def array(self, quantity: str, value, shape: tuple) -> np.ndarray:
        """The value must be an ndarray of the target's dtype and the given shape, all finite."""
        __tracebackhide__ = True
        if not isinstance(value, np.ndarray):
            self.fail(quantity, f"returned {type(value).__name__}, but should be numpy.ndarray of shape {shape}")
        if value.shape != tuple(shape):
            self.fail(quantity, f"shape={value.shape}, but should be {tuple(shape)}")
        if value.dtype != np.dtype(self.target.dtype):
            self.fail(quantity, f"dtype={value.dtype}, but should be {self.target.dtype} (the target's declared dtype)")
        if not np.all(np.isfinite(value)):
            bad = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])
            self.fail(quantity, f"non-finite value {value[bad]} at index {bad}, but should be finite")
        return value

    def close(self, quantity: str, actual, expected, tol, shape=None) -> None:
        """|actual - expected| <= tol entry-wise (tol from the error model)."""
        __tracebackhide__ = True
        expected = np.asarray(expected, np.float64)
        actual = self.array(quantity, actual, expected.shape if shape is None else shape)
        err = np.abs(actual.astype(np.float64) - expected)
        tol = np.broadcast_to(np.asarray(tol, np.float64), err.shape)
        floor = np.finfo(np.float64).tiny
        with np.errstate(over="ignore"):  # a zero tolerance and any error: the ratio is inf, a clear failure
            ratio = err / np.maximum(tol, floor)
        worst = float(ratio.max()) if ratio.size else 0.0
        self.worst = max(self.worst, worst)
        if worst > 1.0:
            i = tuple(int(v) for v in np.unravel_index(int(np.argmax(ratio)), ratio.shape))
            bad = np.argwhere(ratio > 1.0)
            others = "; ".join(f"{tuple(int(v) for v in j)}: {float(actual[tuple(j)]):.6g} vs {float(expected[tuple(j)]):.6g}"
                               for j in bad[:4] if tuple(int(v) for v in j) != i)
            self.fail(quantity, f"entry {i} = {actual[i]!r}, but should be {expected[i]!r} "
                                f"within {tol[i]:.3g} (error {err[i]:.3g} = {worst:.3g} x tolerance); "
                                f"{len(bad)} of {ratio.size} entries differ" + (f" (also {others})" if others else ""))

    def scalar_close(self, quantity: str, actual, expected: float, tol: float) -> None:
        __tracebackhide__ = True
        try:
            a = float(actual)
        except (TypeError, ValueError):
            self.fail(quantity, f"returned {actual!r}, but should be a number")
        ratio = abs(a - expected) / max(tol, np.finfo(np.float64).tiny)
        self.worst = max(self.worst, ratio)
        if ratio > 1.0:
            self.fail(quantity, f"= {a!r}, but should be {expected!r} within {tol:.3g} ({ratio:.3g} x tolerance)")

    def holds(self, quantity: str, ok: bool, msg: str) -> None:
        __tracebackhide__ = True
        if not ok:
            self.fail(quantity, msg)
