"""Hypothesis strategies for batch normalization: columns of random scale and offset, near-constant ones too.

One example: N in 2..8 rows, C in 1..4 features; each column is drawn "spread" (std 0.1, 1 or 10, offset 0,
+-1 or +-10) or "near-constant" (std sqrt(eps) times 0.3, 1 or 3, so var is comparable to eps and the eps
terms of the formulas matter; offset 0, 1 or 10). gamma and beta have random signs and scales; the running
statistics are random (running_var >= 0, sometimes exactly 0); dy is standard normal times a scale.
eps in {1e-5, 1e-3, 0.1}; momentum in {0, 0.1, 0.5, 1} or k/1000 (k = 1..999); a, the scale of
bn.scale_invariance, a power of two (a z is then exact in the dtype). Under the declared restriction
bn_momentum="open_interval" the momenta 0 and 1 are not drawn (0.1, 0.5 or k/1000). Arrays come from a drawn seed through
PCG64 (`strategies.Problem`), cast to the target's dtype before anyone sees them.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ..strategies import SEED, Problem

EPS = (1e-5, 1e-3, 0.1)
MOMENTA = (0.0, 0.1, 0.5, 1.0)
SCALES_A = (2.0 ** -4, 0.5, 2.0, 8.0, 1024.0)
SPREAD_STD = (0.1, 1.0, 10.0)
SPREAD_OFFSET = (0.0, 1.0, -1.0, 10.0, -10.0)
NEAR_STD = (0.3, 1.0, 3.0)  # times sqrt(eps)
NEAR_OFFSET = (0.0, 1.0, 10.0)

#: the fixed momenta, or a random one in steps of 1/1000 (nothing near the underflow threshold: m * stat stays normal)
_MOMENTUM = st.one_of(st.sampled_from(MOMENTA), st.integers(1, 999).map(lambda k: k / 1000))
_MOMENTUM_OPEN = st.one_of(st.sampled_from(tuple(m for m in MOMENTA if 0 < m < 1)),
                           st.integers(1, 999).map(lambda k: k / 1000))


def _column(rng, N, kind, eps):
    z = rng.standard_normal(N)
    if kind == "near_constant":
        return float(rng.choice(NEAR_OFFSET)) + np.sqrt(eps) * float(rng.choice(NEAR_STD)) * z
    return float(rng.choice(SPREAD_OFFSET)) + float(rng.choice(SPREAD_STD)) * z


@st.composite
def bn_problems(draw, dtype: str = "float64", max_N: int = 8, max_C: int = 4, min_N: int = 2, restrict=None):
    """x (N, C), gamma, beta, running_mean, running_var (C,), dy (N, C); scalars eps, momentum, a, column kinds.
    ``restrict``: the declared restrictions (bn_momentum)."""
    N = draw(st.integers(min_N, max_N), label="N")
    C = draw(st.integers(1, max_C), label="C")
    eps = draw(st.sampled_from(EPS), label="eps")
    momentum = draw(_MOMENTUM_OPEN if (restrict or {}).get("bn_momentum") else _MOMENTUM, label="momentum")
    a = draw(st.sampled_from(SCALES_A), label="a")
    seed = draw(SEED, label="seed")
    rng = np.random.default_rng(seed)
    kinds = [str(k) for k in rng.choice(("spread", "near_constant"), size=C, p=(0.7, 0.3))]
    x = np.stack([_column(rng, N, k, eps) for k in kinds], axis=1)
    rv = np.abs(rng.standard_normal(C)) * rng.choice((0.1, 1.0, 10.0), size=C)
    rv[rng.random(C) < 0.15] = 0.0
    arrays = {
        "x": x,
        "gamma": rng.choice((-1.0, 1.0), size=C) * rng.uniform(0.2, 3.0, size=C),
        "beta": rng.standard_normal(C) * rng.choice((0.1, 1.0, 5.0), size=C),
        "running_mean": rng.standard_normal(C) * rng.choice((0.1, 1.0, 10.0), size=C),
        "running_var": rv,
        "dy": rng.standard_normal((N, C)) * float(rng.choice((0.1, 1.0, 10.0))),
    }
    dt = np.dtype(dtype)
    arrays = {k: v.astype(dt) for k, v in arrays.items()}
    return Problem(arrays, {"N": N, "C": C, "eps": eps, "momentum": momentum, "a": a, "seed": seed,
                            "columns": kinds})
