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

import numpy as np

from .checks.batchnorm import check_forward, check_vjp


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
