"""Hypothesis strategies for the empirical NTK.

`ntk_problems` (exact checks): n1, n2 in 1..3 points, d in 1..4 inputs, m in 1..64 hidden units; W, a and the
points standard normal times drawn scales (`strategies.SCALES`); sometimes X2 = X1 (the Gram case), a zero point
(every w.x = 0: relu(0) = 0 and relu'(0) = 0 decide its row), a zero row of W (a unit whose pre-activations are
exactly 0: the convention relu'(0) = 0 drops its W-term).

`convergence_problems` (statistical checks): n in 1..3 points, d in 1..4, each point x = rho z/|z| with z standard
normal and its norm rho in NORMS (never 1, so a kernel that is right only at |x| = 1 is caught); G = GROUPS
groups of M_GROUP hidden units each, W ~ N(0, I) and a ~ N(0, 1) i.i.d., drawn from a seed through PCG64 on a
stream of their own (``default_rng([seed, W_STREAM])``), independent of the points.

Arrays are cast to the target's dtype before anyone sees them.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .strategies import SCALES, Problem

W_STREAM = 0x17C
NORMS = (0.25, 0.5, 2.0, 4.0)
GROUPS = 15
M_GROUP = 2048

_SEED = st.integers(0, 2 ** 32 - 1)


class NTKProblem(Problem):
    """A `Problem` whose repr names shapes and scalars only (W holds G x 2048 rows)."""

    def __repr__(self) -> str:
        return f"NTKProblem({self.describe()})"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(repr(self))


@st.composite
def ntk_problems(draw, dtype: str = "float64", max_n: int = 3, max_d: int = 4, max_m: int = 64, gram: bool = False):
    """X1 (n1, d), X2 (n2, d), W (m, d), a (m,); scalars: sizes, scales, the special cases drawn. ``gram``: always
    X2 = X1."""
    n1 = draw(st.integers(1, max_n), label="n1")
    d = draw(st.integers(1, max_d), label="d")
    m = draw(st.integers(1, max_m), label="m")
    same = True if gram else draw(st.booleans(), label="X2 = X1")
    n2 = n1 if same else draw(st.integers(1, max_n), label="n2")
    w_scale, a_scale, x_scale = (draw(st.sampled_from(SCALES), label=f"{k} scale") for k in ("W", "a", "x"))
    zero_point = draw(st.booleans(), label="a zero point")
    zero_unit = draw(st.booleans(), label="a zero row of W")
    seed = draw(_SEED, label="seed")
    rng = np.random.default_rng(seed)
    W = w_scale * rng.standard_normal((m, d))
    a = a_scale * rng.standard_normal(m)
    X1 = x_scale * rng.standard_normal((n1, d))
    X2 = X1.copy() if same else x_scale * rng.standard_normal((n2, d))
    if zero_point:
        X1[-1] = 0.0
    if zero_unit:
        W[0] = 0.0
    dt = np.dtype(dtype)
    arrays = {k: v.astype(dt) for k, v in (("X1", X1), ("X2", X2), ("W", W), ("a", a))}
    return NTKProblem(arrays, {"n1": n1, "n2": n2, "d": d, "m": m, "same": same, "seed": seed, "W scale": w_scale,
                               "a scale": a_scale, "x scale": x_scale, "zero point": zero_point,
                               "zero unit": zero_unit})


@st.composite
def convergence_problems(draw, dtype: str = "float64", max_n: int = 3, max_d: int = 4):
    """X (n, d) with norms in NORMS; W (G M_GROUP, d) ~ N(0, I), a (G M_GROUP,) ~ N(0, 1) from a seed."""
    n = draw(st.integers(1, max_n), label="n")
    d = draw(st.integers(1, max_d), label="d")
    norms = [draw(st.sampled_from(NORMS), label=f"|x_{i}|") for i in range(n)]
    x_seed = draw(_SEED, label="x seed")
    seed = draw(_SEED, label="W seed")
    rx = np.random.default_rng(x_seed)
    Z = rx.standard_normal((n, d))
    Z /= np.linalg.norm(Z, axis=1, keepdims=True)
    X = np.asarray(norms)[:, None] * Z
    rw = np.random.default_rng([seed, W_STREAM])
    M = GROUPS * M_GROUP
    W = rw.standard_normal((M, d))
    a = rw.standard_normal(M)
    dt = np.dtype(dtype)
    arrays = {"X": X.astype(dt), "W": W.astype(dt), "a": a.astype(dt)}
    return NTKProblem(arrays, {"n": n, "d": d, "norms": norms, "x seed": x_seed, "W seed": seed, "groups": GROUPS,
                               "m per group": M_GROUP})
