"""Assertion helpers with one message shape:

``{quantity}: {what is wrong}, but should be {expected} [{target} :: {property}]``

Shapes and dtypes are checked before values; values are compared vectorised against entry-wise
tolerances and the worst entry is reported only on failure.
"""
from __future__ import annotations

import signal
import threading

import numpy as np

#: seconds one capability call may take before it is a failure (set by --dlproof-call-timeout)
CALL_TIMEOUT = 30.0


class PropertyFailure(AssertionError):
    """The target's output contradicts a derivation."""


class TargetRaised(Exception):
    """The target raised: the property's verdict is "error"."""

    def __init__(self, capability: str, exc: BaseException):
        self.capability, self.exc = capability, exc
        super().__init__(f"{capability} raised {type(exc).__name__}: {exc}")


class TargetTimeout(PropertyFailure):
    """A capability did not return within CALL_TIMEOUT seconds (verdict "fail")."""


_HUNG: set = set()  # (target name, capability) that already hung once in this process


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


def _timer(seconds):
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer") or not seconds:
        return None

    def handler(signum, frame):
        raise _Alarm()

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    return old


def call(target, capability: str, *args):
    """Call a target capability with a time limit; check it left its inputs alone.

    Exceptions become TargetRaised (verdict "error"); a call over CALL_TIMEOUT seconds or one that
    mutates an input array in place is a failure. (A hang inside C code that never returns to Python
    needs ``--dlproof-isolate``.)
    """
    fn = getattr(target, capability)
    hung = (target.name, capability) in _HUNG  # an earlier call hung: do not wait again (shrinking replays)
    if not hung:
        snapshot = [(p, a, _snapshot(a)) for p, a in _arrays(args, "args")]
        old = _timer(CALL_TIMEOUT)
        try:
            out = fn(*args)
        except (_Alarm, TimeoutError):  # TimeoutError: an isolated worker that hung (dlproof.isolate)
            hung = True
            _HUNG.add((target.name, capability))
        except Exception as exc:  # noqa: BLE001 - whatever the target raises is reported, not re-raised
            raise TargetRaised(capability, exc) from exc
        finally:
            if old is not None:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old)
    if hung:  # one raise site, so Hypothesis sees the same failure on every replay
        raise TargetTimeout(f"{capability}: did not return within {CALL_TIMEOUT:g} s (a hung capability is "
                            f"not called again), but should return [{target.name}]")
    for path, a, before in snapshot:
        if _changed(a, before):
            names = ", ".join(_SIGNATURE_HINT.get(capability, ()))
            raise PropertyFailure(f"{capability}: mutated its input {path} in place, but should leave its "
                                  f"inputs unchanged{f' (arguments: {names})' if names else ''} [{target.name}]")
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

    def fail(self, quantity: str, msg: str):
        __tracebackhide__ = True
        raise PropertyFailure(f"{quantity}: {msg} [{self.target.name} :: {self.prop}]")

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
