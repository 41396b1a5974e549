"""1-D and 2-D convolutional layers in NumPy (torch's Conv1d / Conv2d semantics) with a hand-written backward.

x (B, C_in, *n), w (C_out, C_in/G, *K), b (C_out,) or None; per spatial axis stride s >= 1, zero padding p >= 0
on both sides, dilation d >= 1; G groups dividing C_in and C_out (conv.cross_correlation):

    y[n, o, i] = b[o] + sum_{c, k} w[o, c, k] x_pad[n, g(o) C_in/G + c, i s + k d],   g(o) = o // (C_out/G),

with n_out = floor((n + 2p - d(K-1) - 1)/s) + 1 per axis (conv.output_size). Forward: im2col (the windows
x_pad[..., i s + k d] gathered by index arithmetic) and one grouped contraction. Backward of L = <dy, y>,
written from the derivations, not by differentiating the forward:

    dx = crop_p(zeroext_{n+2p}(fullxcorr(dy dilated by s, w flipped and dilated by d)))   (conv.grad_input[.strided])
    dw[o, c, k] = sum_{n, i} dy[n, o, i] x_pad[n, g(o) C_in/G + c, i s + k d]              (conv.grad_weight)
    db[o] = sum_{n, i} dy[n, o, i]                                                         (conv.grad_bias)

Arrays are computed in the inputs' common dtype and returned as new arrays of it; inputs are never mutated.
Bad input raises ValueError / TypeError naming the function and the argument (`checks.convolution`).
"""
from __future__ import annotations

import numpy as np

from .arith import einsum, total
from .checks.convolution import ConvArgs, conv_args

_LETTERS = "ijlm"   # output positions (up to 2 axes)
_KLETTERS = "uvxz"  # kernel taps


def _pad(a: np.ndarray, before: tuple, after: tuple) -> np.ndarray:
    return np.pad(a, [(0, 0), (0, 0)] + [(lo, hi) for lo, hi in zip(before, after)])


def windows(a: np.ndarray, outs: tuple, s: tuple, d: tuple, K: tuple) -> np.ndarray:
    """(B, C, *outs, *K): [..., i, k] = a[..., i s + k d] per spatial axis (im2col by index arithmetic)."""
    idx = [np.arange(outs[ax])[:, None] * s[ax] + np.arange(K[ax])[None, :] * d[ax] for ax in range(len(outs))]
    if len(outs) == 1:
        return a[:, :, idx[0]]
    return a[:, :, idx[0][:, None, :, None], idx[1][None, :, None, :]]


def _spec(nd: int):
    return _LETTERS[:nd], _KLETTERS[:nd]


def _grouped(cols: np.ndarray, w: np.ndarray, G: int) -> np.ndarray:
    """out[b, o, i] = sum_{c, k} w[o, c, k] cols[b, g(o) Cg + c, i, k] -> (B, C_out, *outs)."""
    B, C = cols.shape[:2]
    nd = w.ndim - 2
    i, k = _spec(nd)
    cg = cols.reshape(B, G, C // G, *cols.shape[2:])
    wg = w.reshape(G, w.shape[0] // G, *w.shape[1:])
    y = einsum(f"bgc{i}{k},goc{k}->bgo{i}", cg, wg)
    return y.reshape(B, w.shape[0], *y.shape[3:])


def _forward(a: ConvArgs) -> np.ndarray:
    x, w = a.x.astype(a.dtype, copy=False), a.w.astype(a.dtype, copy=False)
    xp = _pad(x, a.p, a.p)
    y = _grouped(windows(xp, a.outs, a.s, a.d, a.K), w, a.G)
    if a.b is not None:
        y = y + a.b.astype(a.dtype, copy=False).reshape((-1,) + (1,) * len(a.outs))
    return y.astype(a.dtype, copy=False)


def dilate(dy: np.ndarray, s: tuple) -> np.ndarray:
    """dy with s - 1 zeros inserted between neighbouring entries of each spatial axis: length (n_out - 1) s + 1."""
    nd = len(s)
    up = tuple((dy.shape[2 + ax] - 1) * s[ax] + 1 for ax in range(nd))
    out = np.zeros(dy.shape[:2] + up, dy.dtype)
    out[(slice(None), slice(None)) + tuple(slice(None, None, s[ax]) for ax in range(nd))] = dy
    return out


def input_grad(dy_up: np.ndarray, w: np.ndarray, n: tuple, p: tuple, d: tuple, G: int) -> np.ndarray:
    """The stride-1 route of conv.grad_input on an (already stride-dilated) dy_up (B, C_out, *m):
    pad by d(K-1), full cross-correlation with the flipped kernel dilated by d, zero-extend to n + 2p, crop p."""
    nd = len(n)
    K = w.shape[2:]
    ext = tuple(d[ax] * (K[ax] - 1) for ax in range(nd))
    dyp = _pad(dy_up, ext, ext)
    full = tuple(dy_up.shape[2 + ax] + ext[ax] for ax in range(nd))
    cols = windows(dyp, full, (1,) * nd, d, K)                      # (B, C_out, *full, *K)
    wf = w[(slice(None), slice(None)) + (slice(None, None, -1),) * nd]  # flipped kernel
    B, C_out = dy_up.shape[:2]
    i, k = _spec(nd)
    cg = cols.reshape(B, G, C_out // G, *cols.shape[2:])
    wg = wf.reshape(G, C_out // G, *wf.shape[1:])
    dxg = einsum(f"bgo{i}{k},goc{k}->bgc{i}", cg, wg)  # (B, G, Cg, *full)
    Cg = w.shape[1]
    dxp = np.zeros((B, G * Cg) + tuple(n[ax] + 2 * p[ax] for ax in range(nd)), dy_up.dtype)
    keep = tuple(slice(0, min(full[ax], n[ax] + 2 * p[ax])) for ax in range(nd))
    dxp[(slice(None), slice(None)) + keep] = dxg.reshape(B, G * Cg, *full)[(slice(None), slice(None)) + keep]
    return dxp[(slice(None), slice(None)) + tuple(slice(p[ax], p[ax] + n[ax]) for ax in range(nd))]


def weight_grad(xp: np.ndarray, dy: np.ndarray, s: tuple, d: tuple, K: tuple, G: int) -> np.ndarray:
    """dw[o, c, k] = sum_{b, i} dy[b, o, i] xp[b, g(o) Cg + c, i s + k d] (xp: the padded input)."""
    nd = len(s)
    outs = dy.shape[2:]
    cols = windows(xp, outs, s, d, K)                               # (B, C_in, *outs, *K)
    B, C_in = xp.shape[:2]
    C_out = dy.shape[1]
    i, k = _spec(nd)
    cg = cols.reshape(B, G, C_in // G, *cols.shape[2:])
    dyg = dy.reshape(B, G, C_out // G, *outs)
    dw = einsum(f"bgo{i},bgc{i}{k}->goc{k}", dyg, cg)
    return dw.reshape(C_out, C_in // G, *K)


def _vjp(a: ConvArgs) -> dict:
    x, w, dy = (v.astype(a.dtype, copy=False) for v in (a.x, a.w, a.dy))
    nd = len(a.s)
    dx = input_grad(dilate(dy, a.s), w, a.n, a.p, a.d, a.G)
    dw = weight_grad(_pad(x, a.p, a.p), dy, a.s, a.d, a.K, a.G)
    db = total(dy, (0,) + tuple(range(2, 2 + nd))) if a.b is not None else None
    cast = (lambda v: None if v is None else np.ascontiguousarray(v, dtype=a.dtype))
    return {"x": cast(dx), "w": cast(dw), "b": cast(db)}


def conv1d(x, w, b, stride, padding, dilation, groups):
    """y (B, C_out, L_out) of the 1-D layer (module doc)."""
    return _forward(conv_args("conv1d", 1, x, w, b, stride, padding, dilation, groups))


def conv1d_vjp(x, w, b, stride, padding, dilation, groups, dy):
    """Gradients of L = <dy, y> -> {"x", "w", "b"} ("b": None when b is None), by hand."""
    return _vjp(conv_args("conv1d_vjp", 1, x, w, b, stride, padding, dilation, groups, dy, with_dy=True))


def conv2d(x, w, b, stride, padding, dilation, groups):
    """y (B, C_out, H_out, W_out) of the 2-D layer; stride, padding, dilation: an int or a pair."""
    return _forward(conv_args("conv2d", 2, x, w, b, stride, padding, dilation, groups))


def conv2d_vjp(x, w, b, stride, padding, dilation, groups, dy):
    """Gradients of L = <dy, y> -> {"x", "w", "b"} ("b": None when b is None), by hand."""
    return _vjp(conv_args("conv2d_vjp", 2, x, w, b, stride, padding, dilation, groups, dy, with_dy=True))
