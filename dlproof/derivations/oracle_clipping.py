"""The float64 oracle of gradient clipping: the exact rules of every declared convention.

Each function evaluates a rule that a clip.* record states (its id in brackets): the global norm of the
concatenation (computed scaled by the largest entry, so it neither overflows nor underflows), the scale
min(1, c / (N + eps)), clipping by the global or by each tensor's norm, and clipping by value. Gradients are
lists of arrays of any shapes; results are float64.
"""
from __future__ import annotations

import numpy as np


def global_norm(grads) -> float:
    """sqrt(sum_k ||g_k||^2), the norm of the concatenation. [clip.global_norm.concatenation]"""
    flat = np.concatenate([np.ravel(np.asarray(g, np.float64)) for g in grads]) if len(grads) else np.zeros(0)
    s = float(np.max(np.abs(flat))) if flat.size else 0.0
    return 0.0 if s == 0.0 else s * float(np.sqrt(np.sum((flat / s) ** 2)))


def clip_scale(N: float, c: float, eps: float = 0.0) -> float:
    """min(1, c/(N + eps)) for eps > 0 [clip.norm.eps.rule]; 1 if N <= c else c/N for eps = 0 [clip.norm.rule]."""
    if eps > 0:
        return min(1.0, c / (N + eps))
    return 1.0 if N <= c else c / N


def clip_by_norm(grads, c: float, eps: float = 0.0, scope: str = "global"):
    """The exact clipping rule of a declared convention -> (clipped float64 list, pre-clip global norm).
    scope "global": one scale for all tensors; "per_tensor": each by its own norm. [clip.per_tensor.norm]"""
    N = global_norm(grads)
    if scope == "global":
        s = clip_scale(N, c, eps)
        return [s * np.asarray(g, np.float64) for g in grads], N
    return [clip_scale(global_norm([g]), c, eps) * np.asarray(g, np.float64) for g in grads], N


def clip_by_value(grads, v: float):
    """g'_i = min(max(g_i, -v), v). [clip.value.rule]"""
    return [np.clip(np.asarray(g, np.float64), -v, v) for g in grads]
