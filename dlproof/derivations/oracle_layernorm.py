"""The float64 layer-norm oracle, written from the derivations (ln.*), by a route of its own.

A row of layer norm is a column of batch norm (ln.forward): x (..., F) is flattened to R rows (R, F) and
transposed to (F, R), and the batch-norm oracle's per-column statistics and explicit Jacobian
(derivations/oracle_batchnorm.py, bn.jacobian.xhat) are reused, not re-implemented:

    J[r, i, j] = d xhat_ri / d x_rj = (delta_ij - 1/F - xhat_ri xhat_rj / F) / sqrt(var_r + eps),
    dx[r] = J[r]^T (gamma * dy[r])       (ln.backward.projection proves it equals the two-term form),
    dgamma = sum over rows of dy xhat,   dbeta = sum over rows of dy  (ln.backward.gamma_beta).

Arrays: x, dy (..., F); gamma, beta (F,) or both None (no affine part: gamma = 1, beta = 0). Everything is
computed in float64 and returned in the layout of x; inputs are never mutated. No validation here (the oracle
is called on validated problems).
"""
from __future__ import annotations

import numpy as np

from . import oracle_batchnorm as obn


def rows_as_columns(x) -> np.ndarray:
    """(F, R): the rows of x (..., F) as batch-norm columns, float64."""
    x = np.asarray(x, np.float64)
    return x.reshape(-1, x.shape[-1]).T


def columns_back(cols, shape) -> np.ndarray:
    """The inverse of `rows_as_columns`: columns (F, R) back to an array of ``shape`` (..., F)."""
    return np.ascontiguousarray(cols.T).reshape(shape)


def affine_or_identity(gamma, beta, F):
    """(gamma, beta) as float64 (F,) arrays; None reads as the identity (ones, zeros)."""
    g = np.ones(F) if gamma is None else np.asarray(gamma, np.float64)
    b = np.zeros(F) if beta is None else np.asarray(beta, np.float64)
    return g, b


def stats(x):
    """(mu (R,), var (R,)): each row's mean and biased variance (two-pass). [ln.forward]"""
    return obn.stats(rows_as_columns(x))


def xhat(x, eps) -> np.ndarray:
    """(..., F): (x - mu) / sqrt(var + eps) per row. [ln.forward]"""
    x = np.asarray(x)
    return columns_back(obn.xhat(rows_as_columns(x), eps)[0], x.shape)


def layernorm(x, gamma, beta, eps) -> np.ndarray:
    """y = gamma xhat + beta (gamma = 1, beta = 0 when None). [ln.forward]"""
    x = np.asarray(x)
    g, b = affine_or_identity(gamma, beta, x.shape[-1])
    return g * xhat(x, eps) + b


def layernorm_vjp(x, gamma, beta, eps, dy) -> dict:
    """{"x", "gamma", "beta"} of L = <dy, y> through the explicit per-row Jacobian ("gamma"/"beta" None
    without the affine part). [ln.backward.projection, ln.backward.gamma_beta]"""
    x = np.asarray(x)
    F = x.shape[-1]
    g, _ = affine_or_identity(gamma, beta, F)
    dy64 = np.asarray(dy, np.float64)
    J = obn.jacobian_xhat(rows_as_columns(x), eps)                      # (R, F, F)
    G = (g * dy64).reshape(-1, F)                               # (R, F): dL/dxhat
    dx = np.einsum("rij,ri->rj", J, G).reshape(x.shape)
    if gamma is None:
        return {"x": dx, "gamma": None, "beta": None}
    xh = xhat(x, eps).reshape(-1, F)
    d2 = dy64.reshape(-1, F)
    return {"x": dx, "gamma": (d2 * xh).sum(axis=0), "beta": d2.sum(axis=0)}


def xhat_residual(x, gamma, eps, dy) -> np.ndarray:
    """(R,): sum_j dx_j xhat_j per row = (1/s) (sum g xhat) eps / (var + eps). [ln.grad.xhat_residual]"""
    x = np.asarray(x)
    F = x.shape[-1]
    g, _ = affine_or_identity(gamma, None, F)
    G = (g * np.asarray(dy, np.float64)).reshape(-1, F)
    mu, var = stats(x)
    xh = xhat(x, eps).reshape(-1, F)
    return (G * xh).sum(axis=1) / np.sqrt(var + float(eps)) * float(eps) / (var + float(eps))


def scale_gap_bound(x, gamma, eps, a) -> np.ndarray:
    """(..., F): the proved bound |gamma_j| |x_j - mu|/sigma eps |1 - 1/a^2| / (2 sigma^2) of
    |LN_eps(a x) - LN_eps(x)| (batch norm's, per row). [ln.invariance.scale]"""
    x = np.asarray(x)
    g, _ = affine_or_identity(gamma, None, x.shape[-1])
    return columns_back(obn.scale_gap_bound(rows_as_columns(x), g[:, None], eps, a), x.shape)
