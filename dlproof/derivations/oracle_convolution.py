"""The float64 convolution oracle, written from the derivations (conv.*), by routes of its own.

Forward (conv.cross_correlation): shift-and-add straight from the definition, one kernel tap (o, c, k) at a
time, y[:, o] += w[o, c, k] x_pad[:, g(o) Cg + c, k d :: s] (no im2col, no flip, no contraction).
Gradients: NOT the flip/dilate formulas the NumPy reference hand-codes, but the explicit Jacobians built from
the definition and applied to dy:

    J_x[(o, i), (c, j)] = d y[o, i] / d x[c, j] = sum_k w[o, c', k] [i s + k d - p = j]   (one sample; same for all)
    J_w[n][(o, i), (o, c, k)] = x_pad[n, g(o) Cg + c, i s + k d]
    dx[n] = J_x^T dy[n],  dw = sum_n J_w[n]^T dy[n],  db[o] = sum_{n, i} dy[n, o, i]

(conv.grad_input, conv.grad_input.strided, conv.grad_weight and conv.grad_bias prove the two routes agree).
Also: the derived output size, parameter count and receptive fields; the wrong variants that the properties
name (the flipped kernel in the forward, the input gradient without the flip); the error-model magnitudes
|w| * |x| (the forward with absolute values). Small sizes only (the Jacobians are dense): B <= 8,
C <= 8, spatial sizes <= ~12. Inputs: NumPy arrays; s, p, d: tuples of one int per spatial axis.
"""
from __future__ import annotations

import itertools

import numpy as np

from .convolution import out_size, param_count, receptive_field, support_offsets  # noqa: F401 - re-exported


def _f64(*arrays):
    return [None if a is None else np.asarray(a, np.float64) for a in arrays]


def _tup(v, nd):
    return tuple(v) if isinstance(v, (tuple, list)) else (int(v),) * nd


def sizes(n, K, s, p, d) -> tuple:
    """Output sizes per spatial axis (conv.output_size)."""
    return tuple(out_size(n[a], K[a], p[a], s[a], d[a]) for a in range(len(n)))


def _norm(x, w, s, p, d):
    nd = x.ndim - 2
    return _tup(s, nd), _tup(p, nd), _tup(d, nd)


def forward(x, w, b, s, p, d, G, *, flip_kernel=False, absolute=False):
    """y (B, C_out, *out) by shift-and-add over the kernel taps. ``flip_kernel``: the true convolution (the
    wrong variant conv.true_convolution.refuted names); ``absolute``: |w| * |x| + |b| (error-model magnitudes)."""
    x, w, b = _f64(x, w, b)
    s, p, d = _norm(x, w, s, p, d)
    nd = x.ndim - 2
    if flip_kernel:
        w = w[(slice(None), slice(None)) + (slice(None, None, -1),) * nd]
    if absolute:
        x, w, b = np.abs(x), np.abs(w), None if b is None else np.abs(b)
    B, C_in = x.shape[:2]
    C_out, Cg = w.shape[:2]
    K = w.shape[2:]
    outs = sizes(x.shape[2:], K, s, p, d)
    xp = np.pad(x, [(0, 0), (0, 0)] + [(q, q) for q in p])
    y = np.zeros((B, C_out) + outs)
    for o in range(C_out):
        base = (o // (C_out // G)) * Cg
        for c in range(Cg):
            for k in itertools.product(*map(range, K)):
                sl = tuple(slice(k[a] * d[a], k[a] * d[a] + (outs[a] - 1) * s[a] + 1, s[a]) for a in range(nd))
                y[:, o] += w[(o, c) + k] * xp[(slice(None), base + c) + sl]
    if b is not None:
        y += b.reshape((-1,) + (1,) * nd)
    return y


def _taps(outs, K, s, p, d, n):
    """For each kernel tap k: (k, output index arrays, input index arrays) of the pairs i s + k d - p = j that
    fall inside the input (the definition's pattern; distinct i give distinct j for one tap)."""
    nd = len(outs)
    grids = np.meshgrid(*[np.arange(o) for o in outs], indexing="ij")
    for k in itertools.product(*map(range, K)):
        j = [grids[a] * s[a] + k[a] * d[a] - p[a] for a in range(nd)]
        ok = np.ones(grids[0].shape, bool) if nd else True
        for a in range(nd):
            ok &= (j[a] >= 0) & (j[a] < n[a])
        yield k, tuple(g[ok] for g in grids), tuple(v[ok] for v in j)


def jacobian_x(w, xshape, s, p, d, G):
    """J (C_out prod(out), C_in prod(n)): J[(o, i), (c, j)] = d y[o, i] / d x[c, j] = sum_k w[o, c', k]
    [i s + k d - p = j], one sample, entry by entry from the definition (one tap at a time)."""
    (w,) = _f64(w)
    nd = len(xshape) - 1
    s, p, d = _tup(s, nd), _tup(p, nd), _tup(d, nd)
    C_in, n = xshape[0], tuple(xshape[1:])
    C_out, Cg = w.shape[:2]
    K = w.shape[2:]
    outs = sizes(n, K, s, p, d)
    J = np.zeros((C_out,) + outs + (C_in,) + n)
    for k, i_idx, j_idx in _taps(outs, K, s, p, d, n):
        for o in range(C_out):
            base = (o // (C_out // G)) * Cg
            for c in range(Cg):
                J[(o,) + i_idx + (base + c,) + j_idx] += w[(o, c) + k]
    return J.reshape(C_out * int(np.prod(outs)), C_in * int(np.prod(n)))


def jacobian_w(x, wshape, s, p, d, G):
    """(B, C_out prod(out), prod(wshape)): J_w[n][(o, i), (o', c, k)] = d y[n, o, i] / d w[o', c, k]
    = [o' = o] x_pad[n, g(o) Cg + c, i s + k d]."""
    (x,) = _f64(x)
    nd = x.ndim - 2
    s, p, d = _tup(s, nd), _tup(p, nd), _tup(d, nd)
    B = x.shape[0]
    C_out, Cg = wshape[:2]
    K = tuple(wshape[2:])
    n = x.shape[2:]
    outs = sizes(n, K, s, p, d)
    J = np.zeros((B, C_out) + outs + tuple(wshape))
    for k, i_idx, j_idx in _taps(outs, K, s, p, d, n):
        for o in range(C_out):
            base = (o // (C_out // G)) * Cg
            for c in range(Cg):
                J[(slice(None), o) + i_idx + (o, c) + k] = x[(slice(None), base + c) + j_idx]
    return J.reshape(B, C_out * int(np.prod(outs)), int(np.prod(wshape)))


def vjp(x, w, b, s, p, d, G, dy, *, flip_kernel=False, absolute=False):
    """{"x", "w", "b"}: the gradients of L = <dy, y> through the explicit Jacobians (b: None when b is None).
    ``flip_kernel``: dx = J_x(flip w)^T dy, the input gradient WITHOUT the kernel flip (full correlation with
    the unflipped kernel; conv.grad_input.unflipped.refuted); ``absolute``: |J|^T |dy| (error magnitudes)."""
    x, w, dy = _f64(x, w, dy)
    nd = x.ndim - 2
    wk = w[(slice(None), slice(None)) + (slice(None, None, -1),) * nd] if flip_kernel else w
    if absolute:
        x, wk, dy = np.abs(x), np.abs(wk), np.abs(dy)
    B = x.shape[0]
    Jx = jacobian_x(wk, x.shape[1:], s, p, d, G)
    Jw = jacobian_w(x, w.shape, s, p, d, G)
    dyf = dy.reshape(B, -1)
    dx = (dyf @ Jx).reshape(x.shape)
    dw = np.einsum("nr,nrq->q", dyf, Jw).reshape(w.shape)
    db = None if b is None else dy.sum(axis=(0,) + tuple(range(2, 2 + nd)))
    return {"x": dx, "w": dw, "b": db}


def dependence(n0: int, layers) -> np.ndarray:
    """Boolean (n_L, n0): final output i depends on input j through the stack ``layers`` = [(k, s, p, d), ...]
    of 1-D layers (C = 1, non-zero weights), composed from each layer's pattern [i s + m d - p = j] of the
    definition; padded positions depend on nothing. [conv.receptive_field]"""
    D = np.eye(n0, dtype=bool)
    n = n0
    for k, s, p, d in layers:
        m = out_size(n, k, p, s, d)
        P = np.zeros((m, n), dtype=bool)
        for i in range(m):
            for t in range(k):
                j = i * s + t * d - p
                if 0 <= j < n:
                    P[i, j] = True
        D = (P.astype(np.int64) @ D.astype(np.int64)) > 0
        n = m
    return D


def span(n0: int, layers) -> np.ndarray:
    """Boolean (n_L, n0): j in [i j_L - P, i j_L - P + r_L - 1] (conv.receptive_field: the span, padding offset
    P = sum_l p_l j_{l-1}); the dependence is contained in it."""
    ks, ss, ps, ds = zip(*layers)
    r, J = receptive_field(ks, ss, ds)
    P, j = 0, 1
    for p, s in zip(ps, ss):
        P, j = P + p * j, j * s
    n = n0
    for k, s, p, d in layers:
        n = out_size(n, k, p, s, d)
    i = np.arange(n)[:, None]
    jj = np.arange(n0)[None, :]
    return (jj >= i * J - P) & (jj <= i * J - P + r - 1)
