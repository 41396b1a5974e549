"""Hypothesis strategies for the convolution properties (see properties/strategies.py for the style).

One example: B in 1..2, groups G in 1..4 with C_in = G c_in, C_out = G c_out <= 4; per spatial axis kernel
K in 1..3, stride s in 1..3, padding p in 0..2, dilation d in 1..2 and a size n (1-D: <= 9, 2-D: <= 6) with at
least one output position (n + 2p >= d (K - 1) + 1); a bias three times in four. 2-D arguments come as
pairs, or as one int when both axes agree and a drawn flag says so (the protocol accepts both). Weights and
inputs are standard normal times drawn scales; dy standard normal; t (1..2) is the shift of conv.equivariance,
in units of the stride. Arrays come from a drawn seed through PCG64, cast to the target's dtype.

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


@st.composite
def _axis(draw, max_n: int, label: str):
    K = draw(st.integers(1, 3), label=f"K{label}")
    s = draw(st.integers(1, 3), label=f"s{label}")
    p = draw(st.integers(0, 2), label=f"p{label}")
    d = draw(st.integers(1, 2), label=f"d{label}")
    n = draw(st.integers(max(1, d * (K - 1) + 1 - 2 * p), max_n), label=f"n{label}")
    return n, K, s, p, d


def _arg(v: tuple, as_int: bool):
    return v[0] if (len(v) == 1 or (as_int and v[0] == v[1])) else tuple(v)


@st.composite
def conv_problems(draw, nd: int = 1, dtype: str = "float64", max_C: int = 4, max_B: int = 2):
    """x (B, C_in, *n), w (C_out, C_in/G, *K), b (C_out,) (if drawn), dy (B, C_out, *out); scalars s, p, d
    (ints or pairs, as passed), the per-axis tuples, G, outs, t."""
    G = draw(st.integers(1, max_C), label="groups")
    cin = draw(st.integers(1, max_C // G), label="C_in/G")
    cout = draw(st.integers(1, max_C // G), label="C_out/G")
    B = draw(st.integers(1, max_B), label="B")
    axes = [draw(_axis(MAX_N[nd], str(a)), label=f"axis {a}") for a in range(nd)]
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
def size_problems(draw, nd: int = 1, dtype: str = "float64"):
    """A single-channel layer with wider sizes: K in 1..4, p in 0..3, s in 1..4, d in 1..3 per axis, n from the
    smallest size with one output up to 12 (1-D) or 7 (2-D, where the effective kernel allows)."""
    axes = []
    for a in range(nd):
        K = draw(st.integers(1, 4), label=f"K{a}")
        s = draw(st.integers(1, 4), label=f"s{a}")
        p = draw(st.integers(0, 3), label=f"p{a}")
        d = draw(st.integers(1, 3), label=f"d{a}")
        lo = max(1, d * (K - 1) + 1 - 2 * p)
        n = draw(st.integers(lo, max(lo, 12 if nd == 1 else 7)), label=f"n{a}")
        axes.append((n, K, s, p, d))
    n, K, s, p, d = (tuple(v) for v in zip(*axes))
    seed = draw(_SEED, label="seed")
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    return Problem({"x": rng.standard_normal((1, 1) + n).astype(dt), "w": rng.standard_normal((1, 1) + K).astype(dt)},
                   {"nd": nd, "n": n, "K": K, "s": s, "p": p, "d": d, "seed": seed})


@st.composite
def rf_problems(draw, dtype: str = "float64"):
    """A stack [(k, s, p, d), ...] of 2-3 layers, x (1, C, n0), weights w_l (C, C, k_l) > 0, b_l; (c, j) to perturb."""
    depth = draw(st.integers(2, 3), label="depth")
    layers = [(draw(st.integers(1, 3), label=f"k{l}"), draw(st.integers(1, 2), label=f"s{l}"),
               draw(st.integers(0, 1), label=f"p{l}"), draw(st.integers(1, 2), label=f"d{l}")) for l in range(depth)]
    n_min = next(n for n in range(1, 64) if _final(n, layers) >= 1)
    n0 = n_min + draw(st.integers(0, 5), label="extra length")
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


def _final(n, layers):
    for k, s, p, d in layers:
        n = out_size(n, k, p, s, d)
        if n < 1:
            return 0
    return n
