"""Hypothesis strategies for dropout: x with random signs and scales and no exact zeros, p, seeds.

x never holds a zero (|x_i| >= 0.05 * scale * 10^-spread >= 5e-5), so a kept entry is never 0 and the mask can
be read off y = dropout(x, p, True, seed) as y != 0. Magnitudes: a drawn scale (0.1 .. 4) times a per-entry
factor 10^(spread U(-1, 1)), spread in {0, 1, 2}, times (0.05 + |N(0, 1)|); signs positive with a drawn
probability 1/2, 0.8 or 1 (so sum x is not always near 0). p from {0, 0.1, 0.25, 0.5, 0.8} or uniform in
[0, 0.9]. Sizes: "statistical" has n = 1000 .. 5000 entries in 1-3 axes; "any" is either that or a small shape
of 0-3 axes (1-6 each, a 0-d array included).

The arrays come from ``np.random.default_rng([seed, X_STREAM])``: a SeedSequence of its own, so x is
independent of a target's mask even where the target seeds NumPy's default_rng with the same integer.
"""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from .strategies import SCALES, Problem

P_CHOICES = (0.0, 0.1, 0.25, 0.5, 0.8)
X_STREAM = 0xD209
SIZES = ("statistical", "any")

_P = st.one_of(st.sampled_from(P_CHOICES), st.floats(0.0, 0.9, allow_nan=False, allow_infinity=False))
_SEED = st.integers(0, 2 ** 32 - 1)


def _shape(draw, size: str) -> tuple:
    if size == "any" and draw(st.booleans(), label="small shape"):
        ndim = draw(st.integers(0, 3), label="ndim")
        return tuple(draw(st.integers(1, 6), label=f"dim{i}") for i in range(ndim))
    n = draw(st.integers(1000, 5000), label="entries")
    ndim = draw(st.integers(1, 3), label="ndim")
    lead = tuple(draw(st.integers(1, 4), label=f"dim{i}") for i in range(ndim - 1))
    return lead + (math.ceil(n / math.prod(lead)),)


def nonzero_values(rng, shape, scale: float, spread: float, positive: float) -> np.ndarray:
    """Entries of random sign (positive with probability ``positive``) and magnitude, never 0."""
    mag = scale * 10.0 ** (spread * rng.uniform(-1.0, 1.0, shape)) * (0.05 + np.abs(rng.standard_normal(shape)))
    sign = np.where(rng.random(shape) < positive, 1.0, -1.0)
    return sign * mag


class DropoutProblem(Problem):
    """A `Problem` whose repr names shapes and scalars only (x holds thousands of entries)."""

    def __repr__(self) -> str:
        return f"DropoutProblem({self.describe()})"

    def _repr_pretty_(self, printer, cycle) -> None:  # Hypothesis' printer (it spells dataclasses out field by field)
        printer.text(repr(self))


@st.composite
def dropout_problems(draw, dtype: str = "float64", size: str = "statistical"):
    """x and dy (no zeros) of a drawn shape in ``dtype``; scalars p, seed, seed2 (!= seed), shape, n."""
    if size not in SIZES:
        raise ValueError(f"dropout_problems: size={size!r}, but should be one of {SIZES}")
    shape = _shape(draw, size)
    p = draw(_P, label="p")
    seed = draw(_SEED, label="seed")
    seed2 = draw(_SEED.filter(lambda s: s != seed), label="second seed")
    x_seed = draw(_SEED, label="x seed")
    scale = draw(st.sampled_from(SCALES), label="x scale")
    spread = draw(st.sampled_from((0.0, 1.0, 2.0)), label="spread")
    positive = draw(st.sampled_from((0.5, 0.8, 1.0)), label="positive fraction")
    rng = np.random.default_rng([x_seed, X_STREAM])
    dt = np.dtype(dtype)
    x = np.asarray(nonzero_values(rng, shape, scale, spread, positive), dtype=dt)  # asarray: 0-d stays an array
    dy = np.asarray(nonzero_values(rng, shape, 1.0, 1.0, 0.5), dtype=dt)
    return DropoutProblem({"x": x, "dy": dy}, {"p": float(p), "seed": seed, "seed2": seed2, "shape": list(shape),
                                        "n": int(x.size), "x seed": x_seed, "scale": scale, "spread": spread,
                                        "positive": positive})
