"""Assertion helpers with one message shape:

``{quantity}: {what is wrong}, but should be {expected} [{target} :: {property}]``

Shapes and dtypes are checked before values; values are compared vectorised against entry-wise
tolerances and the worst entry is reported only on failure.
"""
from __future__ import annotations

import numpy as np


class PropertyFailure(AssertionError):
    """The target's output contradicts a derivation."""


class TargetRaised(Exception):
    """The target raised: the property's verdict is "error"."""

    def __init__(self, capability: str, exc: BaseException):
        self.capability, self.exc = capability, exc
        super().__init__(f"{capability} raised {type(exc).__name__}: {exc}")


def call(target, capability: str, *args):
    """Call a target capability; its exceptions become TargetRaised (verdict "error")."""
    fn = getattr(target, capability)
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - whatever the target raises is reported, not re-raised
        raise TargetRaised(capability, exc) from exc


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
            self.fail(quantity, f"entry {i} = {actual[i]!r}, but should be {expected[i]!r} "
                                f"within {tol[i]:.3g} (error {err[i]:.3g} = {worst:.3g} x tolerance)")

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
