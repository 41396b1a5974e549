"""Assertion helpers with one message shape:

``{quantity}: {what is wrong}, but should be {expected} [{target} :: {property}]``

Shapes and dtypes are checked before values; values are compared vectorised against entry-wise
tolerances and the worst entry is reported only on failure.
"""
from __future__ import annotations

import signal
import threading
import warnings

import numpy as np

from .arguments import _argument_snapshot, _bad_result, _first_line
from .capture import CapturedOutput, _size
from .where import _location, _short_path

#: the smallest tolerance any comparison uses (the smallest normal float64): an error below it is no error, so a
#: subnormal difference never fails a check (Checker.close, and the diagnoses that ask "within tolerance?")
TOLERANCE_FLOOR = float(np.finfo(np.float64).tiny)
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
    """The target raised (or, isolated, crashed its worker): the property's verdict is "error".

    The message names the capability, what it did ("raised ValueError: ...", "called sys.exit(3)", "crashed the
    isolated worker: killed by SIGABRT (signal 6)") and where in the target's own code (the innermost frame
    outside dlproof's source): ``rnn raised ValueError: bad (at model.py:12 in rnn), but should return its result``.
    """

    def __init__(self, capability: str, exc: BaseException, where: str = ""):
        self.capability, self.exc = capability, exc
        tail = f", but should return its result {where}" if where else ""
        super().__init__(f"{capability} {_what_raised(exc)}{tail}")


class TargetTimeout(PropertyFailure):
    """A capability did not return within CALL_TIMEOUT seconds (verdict "fail")."""


class OutputFlood(Exception):
    """Raised by an isolated worker's proxy (dlproof.isolate): the call wrote more than the output limit."""

    def __init__(self, stream: str, size: int, head: str):
        self.stream, self.size, self.head = stream, size, head
        super().__init__(f"wrote {size} bytes to {stream}")


class CallTimeout(Exception):
    """Raised by an isolated worker's proxy (dlproof.isolate): the call did not answer within ``seconds`` (the
    worker was killed). Not TimeoutError: a target's own TimeoutError is an error of the target, not a hang."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        super().__init__(f"did not return within {seconds:g} s (isolated worker killed)")


class WorkerFailure(Exception):
    """Raised by an isolated worker's proxy (dlproof.isolate): what the call did, already described, e.g.
    "raised ValueError: bad (at model.py:3 in rnn)" or "crashed the isolated worker: killed by SIGSEGV (signal 11)".
    `call` turns it into `TargetRaised` with that text."""

    def __init__(self, what: str, exc_type: str = ""):
        self.what, self.exc_type = what, exc_type
        super().__init__(what)


class InputMutated(Exception):
    """Raised by an isolated worker's proxy (dlproof.isolate): the call changed its arguments in the worker (what
    it did, as `_Node.change` says it); `call` makes it the same failure as in-process."""


class OutputUnreadable(Exception):
    """Raised by an isolated worker's proxy (dlproof.isolate): the call returned something that cannot be sent
    back (not picklable); `call` makes it a failure, as it does for any output it cannot read."""


#: called with the capability name just before each capability call (the runner records it, so a crash or a
#: hang in native code can be blamed on the call in progress); None: nothing is recorded
CALL_HOOK = None

#: True: a warning a capability emits during a call is an error of that call (TargetRaised), as the user's
#: ``--warnings-as-errors`` asks; False (default): warnings are recorded (`drain_warnings`) and the call goes on
WARNINGS_AS_ERRORS = False
#: distinct warning texts kept between two drains (the rest are counted)
WARNINGS_CAP = 20

_WARNINGS: dict = {}  # short text -> times seen since the last drain (insertion order = first seen)
_WARNINGS_DROPPED = [0]  # distinct texts beyond WARNINGS_CAP since the last drain


def drain_warnings() -> list:
    """The warnings the target's calls emitted since the last drain, as short texts (deduplicated, at most
    `WARNINGS_CAP` of them plus one line counting the rest): "rnn_cell: RuntimeWarning: overflow encountered in
    exp (at model.py:12)". Recorded in the result row, never turned into errors (unless WARNINGS_AS_ERRORS)."""
    out = list(_WARNINGS)
    if _WARNINGS_DROPPED[0]:
        out.append(f"... and {_WARNINGS_DROPPED[0]} more distinct warnings")
    _WARNINGS.clear()
    _WARNINGS_DROPPED[0] = 0
    return out


def _record_warning(text: str) -> None:
    if text in _WARNINGS:
        _WARNINGS[text] += 1
    elif len(_WARNINGS) < WARNINGS_CAP:
        _WARNINGS[text] = 1
    else:
        _WARNINGS_DROPPED[0] += 1


def _warning_text(capability: str, w) -> str:
    """``rnn_cell: RuntimeWarning: overflow encountered in exp (at model.py:12)`` for a ``warnings.WarningMessage``."""
    msg = _first_line(_safe_str(w.message), 200)
    at = f" (at {_short_path(w.filename)}:{w.lineno})" if w.filename else ""
    return f"{capability}: {w.category.__name__}: {msg}{at}"


_HUNG: dict = {}  # (target name, capability) -> seconds it was given, for those that already hung in this process
_RUNNING = {"target": None, "property": None}  # set by each Checker: names the property in `call`'s messages


def _where(target) -> str:
    """``[target :: property]`` while a Checker of this target is the latest one, else ``[target]``."""
    if _RUNNING["target"] == target.name and _RUNNING["property"]:
        return f"[{target.name} :: {_RUNNING['property']}]"
    return f"[{target.name}]"


class _Alarm(BaseException):
    """Raised by the timer inside the target; a BaseException so a target's `except Exception` cannot eat it."""


def _safe_str(obj, fn=str) -> str:
    """``fn(obj)``, or a placeholder when the object's own __str__/__repr__ raises."""
    try:
        return fn(obj)
    except Exception as exc:  # noqa: BLE001 - a target's object whose text cannot be had
        return f"<{type(obj).__name__} whose {fn.__name__}() raised {type(exc).__name__}>"


def _what_raised(exc: BaseException) -> str:
    """What a capability did, after its name: "raised ValueError: bad (at model.py:3 in rnn)", "called
    sys.exit(3) (at ...)"; an isolated worker's `WorkerFailure` already carries that text."""
    if isinstance(exc, WorkerFailure):
        return exc.what
    at = _location(exc.__traceback__)
    at = f" (at {at})" if at else ""
    if isinstance(exc, SystemExit):
        return f"called sys.exit({_safe_str(exc.code, repr)}){at}"
    text = _first_line(_safe_str(exc))
    return f"raised {type(exc).__name__}{': ' + text if text else ''}{at}"


def _timer(seconds):
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer") or not seconds:
        return None

    def handler(signum, frame):
        raise _Alarm()

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    return old


def _cancel(old) -> None:
    """Stop the timer of `_timer` and put the previous SIGALRM handler back (also if the alarm fires meanwhile)."""
    if old is None:
        return
    try:
        signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, old)


def _isolated(fn) -> bool:
    """A capability proxy of dlproof.isolate (or a wrapper of one that sets ``__wrapped__``, as
    ``functools.wraps`` does): the worker enforces the deadline and captures the output."""
    for _ in range(8):
        if getattr(type(fn), "dlproof_isolated", False) is True:
            return True
        try:
            fn = fn.__dict__.get("__wrapped__") if hasattr(fn, "__dict__") else None
        except Exception:  # noqa: BLE001 - an object with an odd __dict__ is no proxy
            return False
        if fn is None:
            return False
    return False


def call(target, capability: str, *args):
    """Call a target capability; turn whatever it does into a verdict on that capability.

    - it raises anything (SystemExit, GeneratorExit and other BaseExceptions included; KeyboardInterrupt
      propagates) or, isolated, crashes its worker: `TargetRaised` (verdict "error"), naming where in the
      target's code;
    - it takes longer than CALL_TIMEOUT seconds (the isolated worker's own timeout when isolated): a failure; a
      capability that hung is not called again in this process, so shrinking replays do not wait again;
    - it writes more than OUTPUT_LIMIT bytes to stdout or stderr (Python-level streams and file descriptors
      1 and 2 together; captured and dropped, small prints included): a failure;
    - it changes an argument (an array in place; a dict or list that loses, gains or rebinds an item, at any
      depth): a failure naming the argument by the capability's signature (``p['W_x']``, ``grads[1]``);
    - it returns a non-numeric (e.g. object-dtype) array, or a structure that cannot be read: a failure;
    - it warns: the warning is recorded (`drain_warnings`), whatever warning filters are active outside (with
      WARNINGS_AS_ERRORS it is an error of the call).

    ``CALL_HOOK``, if set, is called with the capability name first. (A hang inside C code that never returns to
    Python needs ``--isolate``.)
    """
    if CALL_HOOK is not None:
        CALL_HOOK(capability)
    fn = getattr(target, capability)
    key = (target.name, capability)
    flood = None
    if key not in _HUNG:  # an earlier call hung: do not wait again (shrinking replays)
        isolated = _isolated(fn)
        snapshot = _argument_snapshot(capability, args)
        captured = CapturedOutput(fd=not isolated)  # isolated: the worker captures its own descriptors
        unreadable = mutated = None
        caught = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")  # no outer filter turns a target's warning into an error
                try:
                    captured.start()  # dlproof's own: an OSError here is not the target's fault
                except BaseException:
                    captured.restore()
                    raise
                try:
                    old = None if isolated else _timer(CALL_TIMEOUT)
                    try:
                        out = fn(*args)
                    finally:
                        _cancel(old)
                except _Alarm:
                    _HUNG[key] = CALL_TIMEOUT
                except CallTimeout as exc:  # an isolated worker that hung (killed by dlproof.isolate)
                    _HUNG[key] = exc.seconds
                except OutputFlood as exc:  # an isolated worker's call printed too much (dlproof.isolate)
                    flood = exc.stream, exc.size, exc.head
                except OutputUnreadable as exc:  # an isolated worker's result that could not be sent back
                    unreadable = str(exc)
                except InputMutated as exc:  # the isolated worker saw the call change its arguments
                    mutated = str(exc)
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:  # noqa: BLE001 - whatever the target raises is reported
                    raise TargetRaised(capability, exc, _where(target)) from (
                        None if isinstance(exc, WorkerFailure) else exc)
                finally:
                    captured.restore()  # also if the alarm fired on the way out
        finally:  # recorded whatever the call did
            warned = [_warning_text(capability, w) for w in caught]
            for text in warned:
                _record_warning(text)
    if key in _HUNG:  # one raise site, so Hypothesis sees the same failure on every replay
        raise TargetTimeout(f"{capability}: did not return within {_HUNG[key]:g} s (a hung capability is "
                            f"not called again), but should return {_where(target)}")
    flood = flood or captured.over(OUTPUT_LIMIT)
    if flood:
        stream, size, head = flood
        raise PropertyFailure(f"{capability}: wrote {_size(size)} to {stream} during one call (limit "
                              f"{_size(OUTPUT_LIMIT)}; it begins {head[:40]!r}), but should write at most "
                              f"{_size(OUTPUT_LIMIT)} per call: the suite captures and drops what a capability "
                              f"prints {_where(target)}")
    if warned and WARNINGS_AS_ERRORS:
        raise TargetRaised(capability, WorkerFailure(f"warned {warned[0].partition(': ')[2]} (warnings are errors: "
                                                     f"--warnings-as-errors)"), _where(target))
    for what in [mutated] + [node.change() for node in snapshot]:
        if what:
            raise PropertyFailure(f"{capability}: {what}, but should leave its inputs unchanged {_where(target)}")
    bad = unreadable or _bad_result(capability, out)
    if bad:
        raise PropertyFailure(f"{capability}: returned {bad}, but should return numpy.ndarray results of a numeric "
                              f"dtype ({target.dtype}) {_where(target)}")
    return out


def number(value) -> str:
    """A scalar as a message shows it: Python's repr of the float, int or bool, whatever its NumPy type (0.5, not
    np.float64(0.5), the repr of NumPy >= 2); a float32 or float16 prints as the float64 it equals exactly."""
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, (bool, np.bool_)):
        return repr(bool(value))
    if isinstance(value, (int, np.integer)):
        return repr(int(value))
    return repr(value)


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
        floor = TOLERANCE_FLOOR
        with np.errstate(over="ignore"):  # a zero tolerance and any error: the ratio is inf, a clear failure
            ratio = err / np.maximum(tol, floor)
        worst = float(ratio.max()) if ratio.size else 0.0
        self.worst = max(self.worst, worst)
        if worst > 1.0:
            i = tuple(int(v) for v in np.unravel_index(int(np.argmax(ratio)), ratio.shape))
            bad = np.argwhere(ratio > 1.0)
            others = "; ".join(f"{tuple(int(v) for v in j)}: {float(actual[tuple(j)]):.6g} vs {float(expected[tuple(j)]):.6g}"
                               for j in bad[:4] if tuple(int(v) for v in j) != i)
            self.fail(quantity, f"entry {i} = {float(actual[i])!r}, but should be {float(expected[i])!r} "
                                f"within {tol[i]:.3g} (error {err[i]:.3g} = {worst:.3g} x tolerance); "
                                f"{len(bad)} of {ratio.size} entries differ" + (f" (also {others})" if others else ""))

    def scalar_close(self, quantity: str, actual, expected: float, tol: float) -> None:
        __tracebackhide__ = True
        try:
            a = float(actual)
        except (TypeError, ValueError):
            self.fail(quantity, f"returned {actual!r}, but should be a number")
        ratio = abs(a - expected) / max(tol, TOLERANCE_FLOOR)
        self.worst = max(self.worst, ratio)
        if ratio > 1.0:
            self.fail(quantity, f"= {a!r}, but should be {expected!r} within {tol:.3g} ({ratio:.3g} x tolerance)")

    def holds(self, quantity: str, ok: bool, msg: str) -> None:
        __tracebackhide__ = True
        if not ok:
            self.fail(quantity, msg)
