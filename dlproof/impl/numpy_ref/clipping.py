"""Gradient clipping in NumPy: global L2 norm, clip by norm, clip by value. Inputs are never mutated.

global_norm(g_1..g_k) = sqrt(sum_i ||g_i||_F^2), evaluated as s * sqrt(sum_i ||g_i / s||^2) with
s = max |entry| (the LAPACK nrm2 idea), so huge entries do not overflow and tiny ones do not underflow.

clip_grad_norm rule (c = max_norm, N = pre-clip norm of the scope):
  eps > 0 : g' = g * min(1, c / (N + eps)), applied always (torch convention; not idempotent);
  eps = 0 : g' = g if N <= c else g * (c / N)   (exact math; N = 0 leaves g unchanged, no 0/0).
scope "global" uses the global norm for every tensor; "per_tensor" clips each tensor by its own norm
(Keras ``clipnorm``). The pre-clip *global* norm is returned in both cases.
"""
from __future__ import annotations

import math

import numpy as np

from .checks import clipping as checks

SCOPES = checks.CLIP_SCOPES


def _sumsq_scaled(g: np.ndarray, s: float) -> float:
    x = np.asarray(g, dtype=np.float64) / s
    return float(np.vdot(x.ravel(), x.ravel()))


def _norm(arrays) -> float:
    nonempty = [np.asarray(g) for g in arrays if np.size(g)]
    if not nonempty:
        return 0.0
    maxima = [float(np.max(np.abs(g))) for g in nonempty]  # NaN if the tensor holds a NaN
    if any(math.isnan(v) for v in maxima):
        return math.nan
    s = max(maxima)
    if math.isinf(s) or s == 0.0:
        return s
    return s * math.sqrt(sum(_sumsq_scaled(g, s) for g in nonempty))


def global_norm(grads) -> float:
    """sqrt(sum of squares over all tensors), overflow-free; an empty list gives 0.0."""
    return _norm(checks.grad_list("global_norm", grads))


def _scale(g: np.ndarray, norm: float, max_norm: float, eps: float) -> np.ndarray:
    if eps > 0:
        factor = min(1.0, max_norm / (norm + eps)) if not math.isnan(norm) else math.nan
    elif norm <= max_norm:
        return g.copy()
    else:
        factor = max_norm / norm if not math.isnan(norm) else math.nan
    with np.errstate(invalid="ignore", over="ignore"):  # inf * 0 -> nan, as in any framework
        return g * g.dtype.type(factor)


def clip_grad_norm(grads, max_norm, eps: float = 0.0, scope: str = "global"):
    """Clip by L2 norm -> (list of new arrays, pre-clip global norm as float). See the module rule."""
    fn = "clip_grad_norm"
    grads, max_norm, eps = checks.clip_args(fn, grads, max_norm, eps, scope)
    total = _norm(grads)
    if scope == "global":
        return [_scale(g, total, max_norm, eps) for g in grads], total
    return [_scale(g, _norm([g]), max_norm, eps) for g in grads], total


def clip_grad_value(grads, clip_value):
    """Element-wise clip to [-v, v]: list of new arrays np.clip(g, -v, v) (NaN stays NaN)."""
    fn = "clip_grad_value"
    grads = checks.grad_list(fn, grads)
    v = checks.positive_number(fn, "clip_value", clip_value)
    out = []
    for g in grads:
        with np.errstate(over="ignore"):  # v beyond the dtype's range becomes inf: no clipping
            vv = np.asarray(v, dtype=g.dtype)
        # exact (a selection); ml_dtypes' bfloat16 np.clip returns float32, so the result is cast back, exactly
        out.append(np.asarray(np.clip(g, -vv, vv)).astype(g.dtype, copy=False))
    return out
