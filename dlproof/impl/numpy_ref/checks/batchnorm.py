"""Validation of the batch-norm calls (batchnorm, batchnorm_vjp): x (N, C) and (C,) vectors, all finite floats;
training a bool, N >= 2 in training (the unbiased running variance divides by N - 1), eps > 0,
0 <= momentum <= 1, running_var >= 0."""
from __future__ import annotations

import numbers

import numpy as np

from .common import expect_shape, fail, finite, flag, float_array


def _scalar(fn: str, name: str, v, lo: float, hi: float, lo_open: bool) -> float:
    want = f"a finite number {'>' if lo_open else '>='} {lo:g}" + (f" and <= {hi:g}" if hi < np.inf else "")
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Real, np.floating, np.integer)):
        fail(fn, f"argument {name!r} should be {want}, got {v!r} ({type(v).__name__})")
    f = float(v)
    if not np.isfinite(f) or f < lo or (lo_open and f == lo) or f > hi:
        fail(fn, f"argument {name!r} should be {want}, got {v!r}")
    return f


def _features(fn: str, x, named: list) -> tuple:
    """x (N, C) and each (name, value) a (C,) vector; all finite floats. -> (x, [vectors], dtype)."""
    x = float_array(fn, "x", x, 2, "(N, C)")
    N, C = x.shape
    if N < 1 or C < 1:
        fail(fn, f"argument 'x' should have shape (N, C) with N >= 1 and C >= 1, got {x.shape}")
    finite(fn, "x", x)
    out = []
    for name, v in named:
        a = float_array(fn, name, v, 1, "(C,)")
        expect_shape(fn, name, a, (C,), "(C,) with C = x.shape[1]")
        finite(fn, name, a)
        out.append(a)
    return x, out, np.result_type(x, *out)


def check_forward(fn, x, gamma, beta, running_mean, running_var, training, momentum, eps):
    """Validated (x, gamma, beta, rm, rv, training, momentum, eps, dtype) of a batchnorm call."""
    training = flag(fn, "training", training, "a bool (True: batch statistics, False: running statistics)")
    x, (g, b, rm, rv), dt = _features(fn, x, [("gamma", gamma), ("beta", beta), ("running_mean", running_mean),
                                              ("running_var", running_var)])
    if np.any(rv < 0):
        j = int(np.argmax(rv < 0))
        fail(fn, f"argument 'running_var' should be >= 0 (a variance), got {rv[j]} at index {j}")
    if training and x.shape[0] < 2:
        fail(fn, f"training mode needs N >= 2 rows of x (the unbiased running variance divides by N - 1, "
                 f"as torch.nn.BatchNorm1d refuses one value per channel), got x of shape {x.shape}")
    momentum = _scalar(fn, "momentum", momentum, 0.0, 1.0, lo_open=False)
    eps = _scalar(fn, "eps", eps, 0.0, np.inf, lo_open=True)
    return x, g, b, rm, rv, training, momentum, eps, dt


def check_vjp(fn, x, gamma, beta, eps, dy):
    """Validated (x, gamma, beta, eps, dy, dtype) of a batchnorm_vjp call (training mode: N >= 2)."""
    x, (g, b), dt = _features(fn, x, [("gamma", gamma), ("beta", beta)])
    if x.shape[0] < 2:
        fail(fn, f"the training-mode gradient needs N >= 2 rows of x, got x of shape {x.shape}")
    dy = float_array(fn, "dy", dy, 2, "(N, C)")
    expect_shape(fn, "dy", dy, x.shape, "(N, C) = x.shape")
    finite(fn, "dy", dy)
    eps = _scalar(fn, "eps", eps, 0.0, np.inf, lo_open=True)
    return x, g, b, eps, dy, np.result_type(dt, dy)
