"""Batch normalization in NumPy with a hand-written backward (per feature over the batch axis).

x (N, C); gamma, beta, running_mean, running_var (C,); eps > 0 (strictly: a constant column would give 0/0
at eps = 0); 0 <= momentum <= 1 (torch's: the weight of the NEW value).

Training (N >= 2):  mu = mean(x), var = mean((x - mu)^2) (biased, two-pass), xhat = (x - mu) / sqrt(var + eps),
                    y = gamma xhat + beta; running' = (1 - m) running + m stat with stat = mu and the
                    UNBIASED N/(N-1) var (torch.nn.BatchNorm1d; convention bn_running_var = "unbiased").
Inference:          y = gamma (x - running_mean) / sqrt(running_var + eps) + beta; the running statistics come
                    back unchanged (copies).
Backward (training mode, L = <dy, y>; bn.backward.three_term, bn.backward.gamma_beta):
                    dx = gamma / (N s) (N dy - sum dy - xhat sum(dy xhat)), dgamma = sum dy xhat, dbeta = sum dy.

Arrays are computed in their common dtype (float32 or float64) and returned as new arrays of it; inputs are
never mutated. Bad input (shapes, dtypes, NaN/inf, N < 2 in training, eps <= 0, momentum outside [0, 1],
running_var < 0, training not a bool) raises ValueError / TypeError naming the function and the argument.
"""
from __future__ import annotations

import numbers

import numpy as np

from ._checks import expect_shape, fail, float_array


def _finite(fn: str, name: str, a: np.ndarray) -> None:
    if not np.all(np.isfinite(a)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        fail(fn, f"argument {name!r} should be finite, got {a[bad]} at index {bad}")


def _scalar(fn: str, name: str, v, lo: float, hi: float, lo_open: bool) -> float:
    want = f"a finite number {'>' if lo_open else '>='} {lo:g}" + (f" and <= {hi:g}" if hi < np.inf else "")
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Real, np.floating, np.integer)):
        fail(fn, f"argument {name!r} should be {want}, got {v!r} ({type(v).__name__})")
    f = float(v)
    if not np.isfinite(f) or f < lo or (lo_open and f == lo) or f > hi:
        fail(fn, f"argument {name!r} should be {want}, got {v!r}")
    return f


def _training(fn: str, training) -> bool:
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"{fn}: argument 'training' should be a bool (True: batch statistics, False: running "
                        f"statistics), got {training!r} ({type(training).__name__})")
    return bool(training)


def _features(fn: str, x, named: list) -> tuple:
    """x (N, C) and each (name, value) a (C,) vector; all finite floats. -> (x, [vectors], dtype)."""
    x = float_array(fn, "x", x, 2, "(N, C)")
    N, C = x.shape
    if N < 1 or C < 1:
        fail(fn, f"argument 'x' should have shape (N, C) with N >= 1 and C >= 1, got {x.shape}")
    _finite(fn, "x", x)
    out = []
    for name, v in named:
        a = float_array(fn, name, v, 1, "(C,)")
        expect_shape(fn, name, a, (C,), "(C,) with C = x.shape[1]")
        _finite(fn, name, a)
        out.append(a)
    return x, out, np.result_type(x, *out)


def check_forward(fn, x, gamma, beta, running_mean, running_var, training, momentum, eps):
    """Validated (x, gamma, beta, rm, rv, training, momentum, eps, dtype) of a batchnorm call."""
    training = _training(fn, training)
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
    _finite(fn, "dy", dy)
    eps = _scalar(fn, "eps", eps, 0.0, np.inf, lo_open=True)
    return x, g, b, eps, dy, np.result_type(dt, dy)


def _normalize(x, eps):
    """(xhat, mu, var, inv = 1/sqrt(var + eps)) in x's dtype, two-pass."""
    mu = x.mean(axis=0)
    d = x - mu
    var = (d * d).mean(axis=0)
    inv = 1 / np.sqrt(var + x.dtype.type(eps))
    return d * inv, mu, var, inv


def batchnorm(x, gamma, beta, running_mean, running_var, training, momentum, eps):
    """-> (y (N, C), running_mean' (C,), running_var' (C,)); see the module docstring."""
    x, g, b, rm, rv, training, momentum, eps, dt = check_forward(
        "batchnorm", x, gamma, beta, running_mean, running_var, training, momentum, eps)
    x, g, b, rm, rv = (a.astype(dt, copy=False) for a in (x, g, b, rm, rv))
    if not training:
        y = g * (x - rm) / np.sqrt(rv + dt.type(eps)) + b
        return y.astype(dt, copy=False), rm.copy(), rv.copy()
    N = x.shape[0]
    xh, mu, var, _ = _normalize(x, eps)
    y = g * xh + b
    m = dt.type(momentum)
    unbiased = var * dt.type(N / (N - 1))
    rm_new = (dt.type(1) - m) * rm + m * mu
    rv_new = (dt.type(1) - m) * rv + m * unbiased
    return y.astype(dt, copy=False), rm_new.astype(dt, copy=False), rv_new.astype(dt, copy=False)


def batchnorm_vjp(x, gamma, beta, eps, dy):
    """Training-mode gradients of L = <dy, y> -> {"x" (N, C), "gamma" (C,), "beta" (C,)}, by hand."""
    x, g, b, eps, dy, dt = check_vjp("batchnorm_vjp", x, gamma, beta, eps, dy)
    x, g, dy = (a.astype(dt, copy=False) for a in (x, g, dy))
    N = x.shape[0]
    xh, _, _, inv = _normalize(x, eps)
    dbeta = dy.sum(axis=0)
    dgamma = (dy * xh).sum(axis=0)
    dx = (g * inv / dt.type(N)) * (dt.type(N) * dy - dbeta - xh * dgamma)
    return {"x": dx.astype(dt, copy=False), "gamma": dgamma.astype(dt, copy=False), "beta": dbeta.astype(dt, copy=False)}
