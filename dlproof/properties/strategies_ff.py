"""Hypothesis strategies for the MLP and residual properties (see properties/strategies.py for the style).

Shapes are drawn (batch B, widths, depth, activation); weights are standard normal with random signs
times a drawn scale (never constant), biases up to 5 so tanh / sigmoid saturate; arrays come from a drawn
seed through PCG64 and are cast to the target's dtype. relu kinks: a pre-activation drawn at an exact 0
has probability 0 here; the tolerance model (properties.tolerances_ff) gives a kink within its forward
error the full derivative jump, and the finite-difference check stays away from it (``assume``).
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .strategies import SCALES, Problem

ACTIVATIONS = ("tanh", "sigmoid", "relu")
BIAS_SCALES = (0.1, 1.0, 5.0)
_ACT = st.sampled_from(ACTIVATIONS)
_SEED = st.integers(0, 2 ** 32 - 1)


def _signed(rng, shape, scale):
    return scale * rng.standard_normal(shape)


@st.composite
def mlp_problems(draw, dtype: str = "float64", max_B: int = 4, max_width: int = 4, max_depth: int = 3):
    """x (B, n_0), W1..WL, b1..bL, dy (B, n_L), a unit-free direction over (x, params); scalar activation."""
    L = draw(st.integers(1, max_depth), label="depth L")
    widths = [draw(st.integers(1, max_width), label=f"n_{l}") for l in range(L + 1)]
    B = draw(st.integers(1, max_B), label="B")
    act = draw(_ACT, label="activation")
    w_scale = draw(st.sampled_from(SCALES), label="W scale")
    b_scale = draw(st.sampled_from(BIAS_SCALES), label="b scale")
    x_scale = draw(st.sampled_from(SCALES), label="x scale")
    seed = draw(_SEED, label="seed")
    rng = np.random.default_rng(seed)
    arrays = {"x": _signed(rng, (B, widths[0]), x_scale)}
    for l in range(1, L + 1):
        arrays[f"W{l}"] = _signed(rng, (widths[l], widths[l - 1]), w_scale / np.sqrt(widths[l - 1]))
        arrays[f"b{l}"] = _signed(rng, (widths[l],), b_scale)
    arrays["dy"] = _signed(rng, (B, widths[-1]), 1.0)
    size = sum(a.size for k, a in arrays.items() if k != "dy")
    arrays["direction"] = _signed(rng, (size,), 1.0)
    dt = np.dtype(dtype)
    arrays = {k: v.astype(dt, copy=False) for k, v in arrays.items()}
    return Problem(arrays, {"activation": act, "L": L, "widths": tuple(widths), "B": B, "seed": seed,
                            "w_scale": w_scale, "b_scale": b_scale, "x_scale": x_scale})


def mlp_layers(q: Problem) -> list:
    """[(W_l, b_l), ...] of a drawn problem (the protocol's list of tuples)."""
    return [(q[f"W{l}"], q[f"b{l}"]) for l in range(1, q["L"] + 1)]


@st.composite
def residual_problems(draw, dtype: str = "float64", max_B: int = 4, max_n: int = 4, max_k: int = 4,
                      max_blocks: int = 3, identity: bool = False):
    """x (B, n), per block W1_l (k, n), b1_l, W2_l (n, k), b2_l, dy (B, n), a direction; ``identity``: W2 = b2 = 0."""
    L = draw(st.integers(1, max_blocks), label="blocks")
    n = draw(st.integers(1, max_n), label="n")
    k = draw(st.integers(1, max_k), label="k")
    B = draw(st.integers(1, max_B), label="B")
    act = draw(_ACT, label="activation")
    w_scale = draw(st.sampled_from(SCALES), label="W scale")
    b_scale = draw(st.sampled_from(BIAS_SCALES), label="b scale")
    x_scale = draw(st.sampled_from(SCALES), label="x scale")
    seed = draw(_SEED, label="seed")
    rng = np.random.default_rng(seed)
    arrays = {"x": _signed(rng, (B, n), x_scale)}
    for l in range(1, L + 1):
        arrays[f"W1_{l}"] = _signed(rng, (k, n), w_scale / np.sqrt(n))
        arrays[f"b1_{l}"] = _signed(rng, (k,), b_scale)
        arrays[f"W2_{l}"] = _signed(rng, (n, k), w_scale / np.sqrt(k)) * (0.0 if identity else 1.0)
        arrays[f"b2_{l}"] = _signed(rng, (n,), b_scale) * (0.0 if identity else 1.0)
    arrays["dy"] = _signed(rng, (B, n), 1.0)
    size = sum(a.size for kk, a in arrays.items() if kk != "dy")
    arrays["direction"] = _signed(rng, (size,), 1.0)
    dt = np.dtype(dtype)
    arrays = {kk: v.astype(dt, copy=False) for kk, v in arrays.items()}
    return Problem(arrays, {"activation": act, "L": L, "n": n, "k": k, "B": B, "seed": seed, "w_scale": w_scale,
                            "b_scale": b_scale, "x_scale": x_scale, "identity": identity})


def residual_blocks(q: Problem) -> list:
    """[(W1, b1, W2, b2), ...] of a drawn problem."""
    return [(q[f"W1_{l}"], q[f"b1_{l}"], q[f"W2_{l}"], q[f"b2_{l}"]) for l in range(1, q["L"] + 1)]
