"""Hypothesis strategies for the convolution properties (see properties/strategies.py for the style).

One example: B in 1..2, groups G in 1..4 with C_in = G c_in, C_out = G c_out <= 4; per spatial axis kernel
K in 1..3, stride s in 1..3, padding p in 0..2, dilation d in 1..2 and a size n (1-D: <= 9, 2-D: <= 6) with at
least one output position (n + 2p >= d (K - 1) + 1); a bias three times in four. 2-D arguments come as
pairs, or as one int when both axes agree and a drawn flag says so (the protocol accepts both). Weights and
inputs are standard normal times drawn scales; dy standard normal; t (1..2) is the shift of conv.equivariance,
in units of the stride. Arrays come from a drawn seed through PCG64, cast to the target's dtype.

Declared restrictions (properties/restrictions.py) narrow the draws, never the checks: ``restrict`` is the
target's ``restrictions`` mapping; conv_groups=1 draws groups 1, conv_dilation=1 dilation 1, conv_padding=0
padding 0, conv_stride=1 stride 1, and conv_stride="exact_tiling" only sizes n with (n + 2p - d(K-1) - 1)
divisible by s (the smallest such n above the minimum when the size range holds none; in a stack, on every
layer).

rf_problems (conv.receptive_field): a stack of 2-3 conv1d layers with C channels (1..2, groups 1), kernels
1..3, strides 1..2, dilations 1..2, paddings 0..1; weights uniform in [0.5, 1.5] (positive: a perturbation of
one input cannot cancel along the paths), the input uniform in [-1, 1], one input entry (c, j) to perturb by +1.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from dlproof.derivations.oracle_conv import out_size

from .strategies import SCALES, Problem

_SEED = st.integers(0, 2 ** 32 - 1)
MAX_N = {1: 9, 2: 6}


def _hi(restrict, name: str, top: int, one: int = 1) -> int:
    """The largest value of stride/padding/dilation to draw: ``one`` where restriction ``name`` pins it."""
    v = (restrict or {}).get(name)
    return one if v is not None and v != "exact_tiling" else top


def _tiling(restrict) -> bool:
    return (restrict or {}).get("conv_stride") == "exact_tiling"


def _sizes(lo: int, hi: int, K: int, s: int, p: int, d: int, tiling: bool) -> list:
    """Input sizes n in [lo, hi] (at least one output); with tiling, those with (n + 2p - d(K-1) - 1) % s == 0
    (extending the range to the first such n if it holds none)."""
    if not tiling:
        return list(range(lo, hi + 1))
    return [n for n in range(lo, max(hi, lo + s - 1) + 1) if (n + 2 * p - d * (K - 1) - 1) % s == 0]


@st.composite
def _axis(draw, max_n: int, label: str, restrict=None):
    K = draw(st.integers(1, 3), label=f"K{label}")
    s = draw(st.integers(1, _hi(restrict, "conv_stride", 3)), label=f"s{label}")
    p = draw(st.integers(0, _hi(restrict, "conv_padding", 2, one=0)), label=f"p{label}")
    d = draw(st.integers(1, _hi(restrict, "conv_dilation", 2)), label=f"d{label}")
    lo = max(1, d * (K - 1) + 1 - 2 * p)
    n = draw(st.sampled_from(_sizes(lo, max(lo, max_n), K, s, p, d, _tiling(restrict))), label=f"n{label}")
    return n, K, s, p, d


def _arg(v: tuple, as_int: bool):
    return v[0] if (len(v) == 1 or (as_int and v[0] == v[1])) else tuple(v)


@st.composite
def conv_problems(draw, nd: int = 1, dtype: str = "float64", max_C: int = 4, max_B: int = 2, restrict=None):
    """x (B, C_in, *n), w (C_out, C_in/G, *K), b (C_out,) (if drawn), dy (B, C_out, *out); scalars s, p, d
    (ints or pairs, as passed), the per-axis tuples, G, outs, t. ``restrict``: the declared restrictions."""
    G = draw(st.integers(1, 1 if (restrict or {}).get("conv_groups") is not None else max_C), label="groups")
    cin = draw(st.integers(1, max_C // G), label="C_in/G")
    cout = draw(st.integers(1, max_C // G), label="C_out/G")
    B = draw(st.integers(1, max_B), label="B")
    axes = [draw(_axis(MAX_N[nd], str(a), restrict), label=f"axis {a}") for a in range(nd)]
    n, K, s, p, d = (tuple(v) for v in zip(*axes))
    as_int = draw(st.booleans(), label="ints") if nd == 2 else True
    bias = draw(st.sampled_from((True, True, True, False)), label="bias")
    t = draw(st.integers(1, 2), label="t")
    x_scale = draw(st.sampled_from(SCALES), label="x scale")
    w_scale = draw(st.sampled_from(SCALES), label="w scale")
    seed = draw(_SEED, label="seed")
    rng = np.random.default_rng(seed)
    outs = tuple(out_size(n[a], K[a], p[a], s[a], d[a]) for a in range(nd))
    arrays = {"x": x_scale * rng.standard_normal((B, G * cin) + n),
              "w": w_scale / np.sqrt(cin * np.prod(K)) * rng.standard_normal((G * cout, cin) + K),
              "dy": rng.standard_normal((B, G * cout) + outs)}
    if bias:
        arrays["b"] = w_scale * rng.standard_normal(G * cout)
    dt = np.dtype(dtype)
    arrays = {k: v.astype(dt) for k, v in arrays.items()}
    return Problem(arrays, {"nd": nd, "stride": _arg(s, as_int), "padding": _arg(p, as_int),
                            "dilation": _arg(d, as_int), "s": s, "p": p, "d": d, "G": G, "outs": outs, "t": t,
                            "seed": seed})


@st.composite
def size_problems(draw, nd: int = 1, dtype: str = "float64", restrict=None):
    """A single-channel layer with wider sizes: K in 1..4, p in 0..3, s in 1..4, d in 1..3 per axis, n from the
    smallest size with one output up to 12 (1-D) or 7 (2-D, where the effective kernel allows); inside the
    declared restrictions."""
    axes = []
    for a in range(nd):
        K = draw(st.integers(1, 4), label=f"K{a}")
        s = draw(st.integers(1, _hi(restrict, "conv_stride", 4)), label=f"s{a}")
        p = draw(st.integers(0, _hi(restrict, "conv_padding", 3, one=0)), label=f"p{a}")
        d = draw(st.integers(1, _hi(restrict, "conv_dilation", 3)), label=f"d{a}")
        lo = max(1, d * (K - 1) + 1 - 2 * p)
        n = draw(st.sampled_from(_sizes(lo, max(lo, 12 if nd == 1 else 7), K, s, p, d, _tiling(restrict))),
                 label=f"n{a}")
        axes.append((n, K, s, p, d))
    n, K, s, p, d = (tuple(v) for v in zip(*axes))
    seed = draw(_SEED, label="seed")
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    return Problem({"x": rng.standard_normal((1, 1) + n).astype(dt), "w": rng.standard_normal((1, 1) + K).astype(dt)},
                   {"nd": nd, "n": n, "K": K, "s": s, "p": p, "d": d, "seed": seed})


@st.composite
def rf_problems(draw, dtype: str = "float64", restrict=None):
    """A stack [(k, s, p, d), ...] of 2-3 layers, x (1, C, n0), weights w_l (C, C, k_l) > 0, b_l; (c, j) to perturb.
    Inside the declared restrictions (with exact tiling, n0 tiles every layer)."""
    depth = draw(st.integers(2, 3), label="depth")
    layers = [(draw(st.integers(1, 3), label=f"k{l}"), draw(st.integers(1, _hi(restrict, "conv_stride", 2)), label=f"s{l}"),
               draw(st.integers(0, _hi(restrict, "conv_padding", 1, one=0)), label=f"p{l}"),
               draw(st.integers(1, _hi(restrict, "conv_dilation", 2)), label=f"d{l}")) for l in range(depth)]
    ok = [n for n in range(1, 256) if _final(n, layers) >= 1 and (not _tiling(restrict) or _tiles(n, layers))]
    n0 = draw(st.sampled_from(ok[:6]), label="length")
    C = draw(st.integers(1, 2), label="C")
    c = draw(st.integers(0, C - 1), label="c")
    j = draw(st.integers(0, n0 - 1), label="j")
    seed = draw(_SEED, label="seed")
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    arrays = {"x": rng.uniform(-1, 1, (1, C, n0))}
    for l, (k, _, _, _) in enumerate(layers):
        arrays[f"w{l}"] = rng.uniform(0.5, 1.5, (C, C, k))
        arrays[f"b{l}"] = rng.standard_normal(C)
    arrays = {k: v.astype(dt) for k, v in arrays.items()}
    return Problem(arrays, {"layers": tuple(layers), "n0": n0, "C": C, "c": c, "j": j, "seed": seed})


def _tiles(n, layers) -> bool:
    """Whether every layer's stride tiles its input exactly: (n + 2p - d(k-1) - 1) % s == 0 layer by layer."""
    for k, s, p, d in layers:
        if (n + 2 * p - d * (k - 1) - 1) % s:
            return False
        n = out_size(n, k, p, s, d)
    return True


def _final(n, layers):
    for k, s, p, d in layers:
        n = out_size(n, k, p, s, d)
        if n < 1:
            return 0
    return n
