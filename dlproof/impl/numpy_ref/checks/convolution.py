"""Validation of the convolution calls (conv1d, conv1d_vjp, conv2d, conv2d_vjp).

Shared by the NumPy reference, the torch reference and the torch.nn adapter, so all three refuse the same
input with the same message: ValueError / TypeError naming the function and the argument.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .common import expect_shape, fail, finite, float_array

AXES = {1: "(B, C_in, L)", 2: "(B, C_in, H, W)"}
W_AXES = {1: "(C_out, C_in/groups, K)", 2: "(C_out, C_in/groups, KH, KW)"}


@dataclass(frozen=True)
class ConvArgs:
    """Validated arguments; s, p, d are tuples of one int per spatial axis; outs the output sizes."""

    x: np.ndarray
    w: np.ndarray
    b: np.ndarray | None
    s: tuple
    p: tuple
    d: tuple
    G: int
    outs: tuple
    dtype: np.dtype
    dy: np.ndarray | None = None

    @property
    def K(self) -> tuple:
        return tuple(self.w.shape[2:])

    @property
    def n(self) -> tuple:
        return tuple(self.x.shape[2:])


def out_size(n: int, k: int, p: int, s: int, d: int) -> int:
    """floor((n + 2p - d(k-1) - 1)/s) + 1 (conv.output_size); <= 0 means no window fits."""
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _int(fn: str, name: str, v, lo: int) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{fn}: argument {name!r} should be an int >= {lo}, got {v!r} ({type(v).__name__})")
    if int(v) < lo:
        fail(fn, f"argument {name!r} should be an int >= {lo}, got {v!r}")
    return int(v)


def _ints(fn: str, name: str, v, nd: int, lo: int) -> tuple:
    """One int per spatial axis: an int, or (2-D) a pair of ints (an int means the same on both axes)."""
    if nd == 2 and isinstance(v, (tuple, list)):
        if len(v) != 2:
            fail(fn, f"argument {name!r} should be an int or a pair of ints >= {lo}, got {v!r} (length {len(v)})")
        return tuple(_int(fn, f"{name}[{a}]", e, lo) for a, e in enumerate(v))
    if nd == 1 and isinstance(v, (tuple, list)):
        if len(v) != 1:
            fail(fn, f"argument {name!r} should be an int >= {lo} (conv1d), got {v!r}")
        v = v[0]
    return (_int(fn, name, v, lo),) * nd


def conv_args(fn: str, nd: int, x, w, b, stride, padding, dilation, groups, dy=None, *, with_dy=False) -> ConvArgs:
    """Validate a conv{nd}d / conv{nd}d_vjp call (see dlproof/target.py)."""
    x = float_array(fn, "x", x, nd + 2, AXES[nd])
    w = float_array(fn, "w", w, nd + 2, W_AXES[nd])
    if min(x.shape) < 1:
        fail(fn, f"argument 'x' should have shape {AXES[nd]} with every size >= 1, got {x.shape}")
    if min(w.shape) < 1:
        fail(fn, f"argument 'w' should have shape {W_AXES[nd]} with every size >= 1, got {w.shape}")
    s = _ints(fn, "stride", stride, nd, 1)
    p = _ints(fn, "padding", padding, nd, 0)
    d = _ints(fn, "dilation", dilation, nd, 1)
    G = _int(fn, "groups", groups, 1)
    C_in, C_out = x.shape[1], w.shape[0]
    if C_in % G or C_out % G:
        fail(fn, f"argument 'groups' = {G} should divide C_in = x.shape[1] = {C_in} and C_out = w.shape[0] = {C_out}")
    if w.shape[1] != C_in // G:
        fail(fn, f"argument 'w' should have shape {W_AXES[nd]} with w.shape[1] = C_in/groups = {C_in}/{G} = "
                 f"{C_in // G}, got {w.shape}")
    if b is not None:
        b = float_array(fn, "b", b, 1, "(C_out,)")
        expect_shape(fn, "b", b, (C_out,), "(C_out,) with C_out = w.shape[0]")
    outs = tuple(out_size(x.shape[2 + a], w.shape[2 + a], p[a], s[a], d[a]) for a in range(nd))
    if min(outs) < 1:
        a = int(np.argmin(outs))
        fail(fn, f"empty output: spatial axis {a} has n = {x.shape[2 + a]}, kernel {w.shape[2 + a]}, padding {p[a]}, "
                 f"dilation {d[a]}: n + 2p = {x.shape[2 + a] + 2 * p[a]} should be >= d (k - 1) + 1 = "
                 f"{d[a] * (w.shape[2 + a] - 1) + 1} (the effective kernel)")
    finite(fn, "x", x)
    finite(fn, "w", w)
    arrays = [x, w]
    if b is not None:
        finite(fn, "b", b)
        arrays.append(b)
    if with_dy:
        want = (x.shape[0], C_out, *outs)
        dy = float_array(fn, "dy", dy, nd + 2, "(B, C_out, *out)")
        expect_shape(fn, "dy", dy, want, "(B, C_out, *out), the output's shape")
        finite(fn, "dy", dy)
        arrays.append(dy)
    return ConvArgs(x, w, b, s, p, d, G, outs, np.result_type(*arrays), dy)
