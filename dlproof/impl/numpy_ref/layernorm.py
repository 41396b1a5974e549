"""Layer normalization over the last axis in NumPy, with a hand-written backward.

x (..., F) with F >= 1 features on the LAST axis and any leading shape (every leading index is one row);
gamma, beta (F,) (shared by the rows) or both None (no affine part); eps >= 0 (a finite number; eps = 0
refuses a constant row, where var + eps = 0 gives 0/0).

Forward (ln.forward):   mu = mean(x, -1), var = mean((x - mu)^2, -1) (biased, two-pass),
                        xhat = (x - mu) / sqrt(var + eps),  y = gamma xhat + beta  (y = xhat without affine).
Backward (L = <dy, y>; ln.backward.projection, ln.backward.gamma_beta), g = gamma dy:
                        dx = (1/sigma) (g - mean(g, -1) - xhat mean(g xhat, -1)),  sigma = sqrt(var + eps),
                        dgamma = sum over the leading axes of dy xhat,  dbeta = sum of dy
                        ("gamma" and "beta" are None without the affine part).

Computed in the common dtype of the arrays (float32 or float64) and returned as new arrays of it; inputs are
never mutated. `check_forward` / `check_vjp` (shared by the torch reference and the adapters) raise ValueError
naming the function and the argument: x not a floating array of ndim >= 1 or F = 0, gamma and beta not both
given or both None, a vector not of shape (F,), dy not of x's shape, NaN or inf anywhere, eps negative or not a
finite number, a constant row with eps = 0.
"""
from __future__ import annotations

import numpy as np

from .checks.common import expect_shape, fail, finite, float_array, nonnegative_number


def _check_x(fn, x, gamma, beta, eps):
    x = float_array(fn, "x", x, None, "(..., F)")
    if x.ndim < 1 or x.shape[-1] < 1:
        fail(fn, f"argument 'x' should have shape (..., F) with F >= 1 features on the last axis, got {x.shape}")
    finite(fn, "x", x)
    if (gamma is None) != (beta is None):
        fail(fn, "arguments 'gamma' and 'beta' should be both given (the affine part) or both None (none), got "
                 f"gamma={'None' if gamma is None else 'an array'} and beta={'None' if beta is None else 'an array'}")
    F = x.shape[-1]
    vecs = []
    for name, v in (("gamma", gamma), ("beta", beta)):
        if v is not None:
            a = float_array(fn, name, v, 1, "(F,)")
            expect_shape(fn, name, a, (F,), "(F,) with F = x.shape[-1]")
            vecs.append(finite(fn, name, a))
    eps = nonnegative_number(fn, "eps", eps)
    if eps == 0.0 and x.size:
        flat = x.reshape(-1, F)
        const = np.all(flat == flat[:, :1], axis=1)
        if np.any(const):
            r = np.unravel_index(int(np.argmax(const)), x.shape[:-1])
            fail(fn, f"argument 'eps' = 0 with a constant row of x at leading index {tuple(int(i) for i in r)}: "
                     "var + eps = 0 there (0/0); eps should be > 0 for such rows")
    return x, vecs, eps


def check_forward(fn, x, gamma, beta, eps):
    """Validated (x, gamma, beta, eps, dtype) of a layernorm call (gamma, beta None without the affine part)."""
    x, vecs, eps = _check_x(fn, x, gamma, beta, eps)
    g, b = vecs if vecs else (None, None)
    return x, g, b, eps, np.result_type(x, *vecs)


def check_vjp(fn, x, gamma, beta, eps, dy):
    """Validated (x, gamma, beta, eps, dy, dtype) of a layernorm_vjp call."""
    x, g, b, eps, dt = check_forward(fn, x, gamma, beta, eps)
    dy = float_array(fn, "dy", dy, x.ndim, "(..., F) = x.shape")
    expect_shape(fn, "dy", dy, x.shape, "x.shape")
    finite(fn, "dy", dy)
    return x, g, b, eps, dy, np.result_type(dt, dy)


def _normalize(x, eps):
    """(xhat, inv = 1/sqrt(var + eps)) in x's dtype, two-pass over the last axis."""
    mu = x.mean(axis=-1, keepdims=True)
    d = x - mu
    var = (d * d).mean(axis=-1, keepdims=True)
    inv = 1 / np.sqrt(var + x.dtype.type(eps))
    return d * inv, inv


def layernorm(x, gamma, beta, eps):
    """-> y (..., F) = gamma (x - mean) / sqrt(var + eps) + beta over the last axis; see the module docstring."""
    x, g, b, eps, dt = check_forward("layernorm", x, gamma, beta, eps)
    xh, _ = _normalize(x.astype(dt, copy=False), eps)
    y = xh if g is None else g.astype(dt, copy=False) * xh + b.astype(dt, copy=False)
    return y.astype(dt, copy=True)


def layernorm_vjp(x, gamma, beta, eps, dy):
    """Gradients of L = <dy, y> -> {"x" (..., F), "gamma" (F,), "beta" (F,)} by hand ("gamma"/"beta" None
    without the affine part)."""
    x, g, b, eps, dy, dt = check_vjp("layernorm_vjp", x, gamma, beta, eps, dy)
    x, dy = x.astype(dt, copy=False), dy.astype(dt, copy=False)
    xh, inv = _normalize(x, eps)
    gd = dy if g is None else g.astype(dt, copy=False) * dy
    dx = inv * (gd - gd.mean(axis=-1, keepdims=True) - xh * (gd * xh).mean(axis=-1, keepdims=True))
    out = {"x": dx.astype(dt, copy=True), "gamma": None, "beta": None}
    if g is not None:
        lead = tuple(range(x.ndim - 1))
        out["gamma"] = (dy * xh).sum(axis=lead).astype(dt, copy=False)
        out["beta"] = dy.sum(axis=lead).astype(dt, copy=False)
    return out
