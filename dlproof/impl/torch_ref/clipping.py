"""Gradient clipping with torch ops (NumPy arrays in and out, computed in each tensor's dtype).

Same exact rule as `dlproof.impl.numpy_ref.clipping` (c = max_norm, N = pre-clip norm):
  eps > 0 : g' = g * min(1, c / (N + eps)), applied always (torch.nn.utils.clip_grad_norm_ convention);
  eps = 0 : g' = g if N <= c else g * (c / N).
N = s * sqrt(sum ||g / s||^2) with s = max |entry| (no overflow). Clip by value is torch.clamp(g, -v, v).
"""
from __future__ import annotations

import math


from ..numpy_ref.checks import clipping as checks
from ._torch import to_numpy, to_torch, torch, torch_dtype

SCOPES = checks.CLIP_SCOPES


def _norm(ts) -> float:
    ts = [t for t in ts if t.numel()]
    if not ts:
        return 0.0
    maxima = torch.stack([t.abs().max().to(torch.float64) for t in ts])
    if torch.isnan(maxima).any():
        return math.nan
    s = maxima.max()
    if not torch.isfinite(s) or s == 0:
        return float(s)
    sq = sum(torch.sum((t / s.to(t.dtype)) ** 2).to(torch.float64) for t in ts)
    return float(s * torch.sqrt(sq))


def _scale(t, norm: float, max_norm: float, eps: float):
    if eps > 0:
        coef = torch.clamp(torch.tensor(max_norm / (norm + eps), dtype=torch.float64), max=1.0)
    elif norm <= max_norm:
        return t.clone()
    else:
        coef = torch.tensor(max_norm / norm if not math.isnan(norm) else math.nan, dtype=torch.float64)
    return t * coef.to(t.dtype)


def clip_grad_norm(grads, max_norm, eps: float = 0.0, scope: str = "global"):
    """-> (list of new NumPy arrays, pre-clip global norm as float)."""
    fn = "clip_grad_norm"
    grads, max_norm, eps = checks.clip_args(fn, grads, max_norm, eps, scope)
    ts = [to_torch(g, torch_dtype(g.dtype)) for g in grads]
    total = _norm(ts)
    if scope == "global":
        out = [_scale(t, total, max_norm, eps) for t in ts]
    else:
        out = [_scale(t, _norm([t]), max_norm, eps) for t in ts]
    return [to_numpy(t, g.dtype) for t, g in zip(out, grads)], total


def clip_grad_value(grads, clip_value):
    """Element-wise torch.clamp(g, -v, v) -> list of new NumPy arrays."""
    fn = "clip_grad_value"
    grads = checks.grad_list(fn, grads)
    v = checks.positive_number(fn, "clip_value", clip_value)
    out = []
    for g in grads:
        t = to_torch(g, torch_dtype(g.dtype))
        # a bound beyond the dtype's range clips nothing (as NumPy's cast to inf does)
        out.append(to_numpy(t if v > torch.finfo(t.dtype).max else torch.clamp(t, -v, v), g.dtype))
    return out
