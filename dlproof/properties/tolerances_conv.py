"""The forward-error model of the convolution capabilities: entry-wise tolerances per dtype.

Conventions of properties/tolerances.py: u = u_target + u_float64 (`u_total`: the target and the float64
oracle together), gamma_k = k u / (1 - k u), tolerance = SAFETY (2) times the bound. Every output of a
convolution, and every gradient entry, is a sum of products of exact inputs (Higham, Accuracy and Stability,
§3.1: any order, FMA or not, |fl(sum) - sum| <= gamma_k sum |terms|):

  y[n, o, i]     = b[o] + sum of m = (C_in/G) prod(K) products w x:    e_y  = gamma_{m+1} (|w| * |x| + |b|)
  dx[n, c, j]    = sum of at most (C_out/G) prod(K) products w dy:     e_dx = gamma_{(C_out/G) prod K} (|J_x|^T |dy|)
  dw[o, c, k]    = sum of B prod(n_out) products dy x_pad:             e_dw = gamma_{B prod n_out} (|J_w|^T |dy|)
  db[o]          = sum of B prod(n_out) entries of dy:                 e_db = gamma_{B prod n_out} sum |dy|

|w| * |x| is the layer evaluated on absolute values (oracle_conv.forward(absolute=True)), |J|^T |dy| the
Jacobian route on absolute values (oracle_conv.vjp(absolute=True)). Routes that add zeros (the dilated dy,
im2col over padding) or reorder the sum stay within these bounds. A stack of layers (conv.receptive_field)
propagates the bound to first order: e_l = gamma_{m_l + 1}(|w_l| * (|a_{l-1}| + e_{l-1}) + |b_l|) + |w_l| * e_{l-1}.

FLOOR (1e-290) is added to every tolerance: an entry whose magnitude is 0 (a window over padding only, a zero
bias gradient row) must come out as exactly 0, and the floor keeps the error/tolerance ratio of a wrong
target finite (no overflow) while staying below anything the strategies' scales can produce.
"""
from __future__ import annotations

import numpy as np

from dlproof.derivations import oracle_conv as oracle

from .tolerances import SAFETY, gamma, u_total

FLOOR = 1e-290


def forward_tol(x, w, b, s, p, d, G, dtype) -> np.ndarray:
    """(B, C_out, *out): SAFETY gamma_{m+1} (|w| * |x| + |b|), m = (C_in/G) prod(K)."""
    u = u_total(dtype)
    m = int(np.prod(np.shape(w)[1:]))
    return SAFETY * gamma(m + 1, u) * oracle.forward(x, w, b, s, p, d, G, absolute=True) + FLOOR


def vjp_tol(x, w, b, s, p, d, G, dy, dtype) -> dict:
    """{"x", "w", "b"}: entry-wise tolerances of conv*_vjp ("b": None without a bias)."""
    u = u_total(dtype)
    w_shape = np.shape(w)
    nd = len(w_shape) - 2
    mx = (w_shape[0] // G) * int(np.prod(w_shape[2:]))
    mw = int(np.prod(np.shape(dy)[:1] + np.shape(dy)[2:]))
    mag = oracle.vjp(x, w, b, s, p, d, G, dy, absolute=True)
    db = None
    if b is not None:
        db = SAFETY * gamma(mw, u) * np.abs(np.asarray(dy, np.float64)).sum(axis=(0,) + tuple(range(2, 2 + nd))) + FLOOR
    return {"x": SAFETY * gamma(max(mx, 1), u) * mag["x"] + FLOOR, "w": SAFETY * gamma(mw, u) * mag["w"] + FLOOR, "b": db}


def stack_tol(x, layers, dtype) -> np.ndarray:
    """Tolerance of the last output of a stack of conv1d layers [(w, b, s, p, d), ...] (groups 1), first order."""
    u = u_total(dtype)
    a = np.abs(np.asarray(x, np.float64))
    e = np.zeros_like(a)
    for w, b, s, p, d in layers:
        m = int(np.prod(np.shape(w)[1:]))
        mag = oracle.forward(a + e, w, b, (s,), (p,), (d,), 1, absolute=True)
        prop = oracle.forward(e, np.abs(w), None, (s,), (p,), (d,), 1)
        a = oracle.forward(a, w, b, (s,), (p,), (d,), 1, absolute=True)
        e = gamma(m + 1, u) * mag + prop
    return SAFETY * e + FLOOR
