"""Hypothesis strategies for softmax, attention and multi-head attention (see properties/strategies.py).

Softmax rows: leading shape of 0-2 axes (1-3 each), n = 1..5 entries, standard normal times a drawn scale in
{0.1, 1, 10, 100, 1e3} plus a drawn offset in {0, +-30, +-1e3} (so |x| reaches ~4e3: exp without the max shift
overflows in float64 beyond ~709 and in float32 beyond ~88.7). Entries sit on the grid 2^-8 Z (clipped to |x| <= 8000), and
the per-row shifts c of attn.softmax.shift_invariance are integers in [-3e4, 3e4], so x + c is on the grid with
|x + c| 2^8 < 2^24: exact in float32 and float64. In a 16-bit format of p significant bits (float16: 11,
bfloat16: 8) the shifts are integers up to 2^(p-3) instead (the drawn integer scaled), and x and c of each row are
rounded to the grid g = 2^(e - p), 2^(e-1) >= max|x| + |c|: x and x + c are then integer multiples of g of at most
2^p g (exact in the format; float16's max 65504 is far: |x + c| <= 8256). Attention: B in 1..2, Tq, Tk in 1..4, d, dv in 1..4, causal
drawn; q and k standard normal times scales in {0.1, 1, 3, 10} (logits from ~0 to saturated), v and dy with
random scales. MHA: B in 1..2, Tq, Tk in 1..4, E in {2, 4, 6}, H a divisor of E; weights N(0, 1) times {0.5, 1, 2} / sqrt(E), biases up to 1.
The statistical problems of attn.scale.variance: d in {2, 3, 4}, N = 2000 independent samples: q Rademacher
(+-1 entries), k_1, k_2 standard normal, one sample per batch row (Tq = 1, Tk = 2, v = I_2).
Declared restrictions (properties/restrictions.py) narrow the draws: attention_causal=False draws causal=False
only (attention and MHA); attention_value_dim="equal_to_query" draws dv = d (and the variance problems' v is
[I_2 | 0], (2, d)). Arrays come from a drawn seed through PCG64 and are cast to the target's dtype before anyone
sees them.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from dlproof.dtypes import fmt

from ..strategies import SEED, Problem

GRID = 2.0 ** -8
SM_SCALES = (0.1, 1.0, 10.0, 100.0, 1e3)
SM_OFFSETS = (0.0, 30.0, -30.0, 1e3, -1e3)
QK_SCALES = (0.1, 1.0, 3.0, 10.0)
V_SCALES = (0.1, 1.0, 10.0)
W_SCALES = (0.5, 1.0, 2.0)
EMBED = (2, 4, 6)
VARIANCE_N = 2000
VARIANCE_D = (2, 3, 4)



def _cast(arrays: dict, dtype: str) -> dict:
    dt = np.dtype(dtype)
    return {k: np.asarray(v).astype(dt) for k, v in arrays.items()}


@st.composite
def softmax_problems(draw, dtype: str = "float64"):
    """x (..., n) on the grid 2^-8 Z, a cotangent ds, per-row integer shifts c (..., 1)."""
    lead = tuple(draw(st.integers(1, 3), label=f"lead{i}") for i in range(draw(st.integers(0, 2), label="lead ndim")))
    n = draw(st.integers(1, 5), label="n")
    scale = draw(st.sampled_from(SM_SCALES), label="scale")
    offset = draw(st.sampled_from(SM_OFFSETS), label="offset")
    seed = draw(SEED, label="seed")
    rng = np.random.default_rng(seed)
    shape = lead + (n,)
    x = np.clip(np.round((offset + scale * rng.standard_normal(shape)) / GRID) * GRID, -8000.0, 8000.0)
    c = rng.integers(-30000, 30001, size=lead + (1,)).astype(np.float64)
    if fmt(dtype).p < 24:
        x, c = _exact_shift(x, c, fmt(dtype).p)
    arrays = {"x": x, "ds": rng.standard_normal(shape) * float(rng.choice(V_SCALES)), "c": c}
    return Problem(_cast(arrays, dtype), {"shape": shape, "scale": scale, "offset": offset, "seed": seed})


def _exact_shift(x, c, p: int):
    """(x, c) for a format of p < 24 significant bits: c scaled to integers up to 2^(p-3), both rounded per row to
    the grid g = 2^(e - p) with 2^(e-1) >= max|x| + |c| (the module doc), so that x and x + c are exact there."""
    c = np.round(c * 2.0 ** (p - 3) / 30000)
    bound = np.maximum(np.max(np.abs(x), axis=-1, keepdims=True) + np.abs(c), 2.0 ** -8)
    g = 2.0 ** (np.ceil(np.log2(bound)) + 1 - p)
    return np.round(x / g) * g, np.round(c / g) * g


def _causal(draw, restrict):
    return False if (restrict or {}).get("attention_causal") is not None else draw(st.booleans(), label="causal")


@st.composite
def attention_problems(draw, dtype: str = "float64", restrict=None):
    """q (B, Tq, d), k (B, Tk, d), v (B, Tk, dv), dy (B, Tq, dv), k2, v2 (other keys/values); scalar causal.
    ``restrict``: the declared restrictions."""
    B = draw(st.integers(1, 2), label="B")
    Tq = draw(st.integers(1, 4), label="Tq")
    Tk = draw(st.integers(1, 4), label="Tk")
    d = draw(st.integers(1, 4), label="d")
    dv = d if (restrict or {}).get("attention_value_dim") is not None else draw(st.integers(1, 4), label="dv")
    causal = _causal(draw, restrict)
    sq = draw(st.sampled_from(QK_SCALES), label="q scale")
    sk = draw(st.sampled_from(QK_SCALES), label="k scale")
    seed = draw(SEED, label="seed")
    rng = np.random.default_rng(seed)
    sv = float(rng.choice(V_SCALES))
    arrays = {"q": sq * rng.standard_normal((B, Tq, d)), "k": sk * rng.standard_normal((B, Tk, d)),
              "v": sv * rng.standard_normal((B, Tk, dv)),
              "dy": float(rng.choice(V_SCALES)) * rng.standard_normal((B, Tq, dv)),
              "k2": sk * rng.standard_normal((B, Tk, d)), "v2": sv * rng.standard_normal((B, Tk, dv))}
    return Problem(_cast(arrays, dtype), {"B": B, "Tq": Tq, "Tk": Tk, "d": d, "dv": dv, "causal": causal,
                                         "q scale": sq, "k scale": sk, "seed": seed})


@st.composite
def mha_problems(draw, dtype: str = "float64", restrict=None):
    """query (B, Tq, E), key, value (B, Tk, E), params W_* (E, E), b_* (E,), dy; scalars num_heads, causal."""
    B = draw(st.integers(1, 2), label="B")
    Tq = draw(st.integers(1, 4), label="Tq")
    Tk = draw(st.integers(1, 4), label="Tk")
    E = draw(st.sampled_from(EMBED), label="E")
    H = draw(st.sampled_from([h for h in range(1, E + 1) if E % h == 0]), label="num_heads")
    causal = _causal(draw, restrict)
    ws = draw(st.sampled_from(W_SCALES), label="W scale")
    seed = draw(SEED, label="seed")
    rng = np.random.default_rng(seed)
    arrays = {f"W_{n}": ws / np.sqrt(E) * rng.standard_normal((E, E)) for n in "qkvo"}
    arrays.update({f"b_{n}": rng.uniform(-1.0, 1.0, E) for n in "qkvo"})
    xs = float(rng.choice((0.5, 1.0, 3.0)))
    arrays.update({"query": xs * rng.standard_normal((B, Tq, E)), "key": xs * rng.standard_normal((B, Tk, E)),
                   "value": xs * rng.standard_normal((B, Tk, E)), "dy": rng.standard_normal((B, Tq, E))})
    return Problem(_cast(arrays, dtype), {"B": B, "Tq": Tq, "Tk": Tk, "E": E, "num_heads": H, "causal": causal,
                                         "W scale": ws, "seed": seed})


PARAM_NAMES = ("W_q", "W_k", "W_v", "W_o", "b_q", "b_k", "b_v", "b_o")


def mha_params(problem) -> dict:
    return {n: problem[n] for n in PARAM_NAMES}


class VarianceProblem(Problem):
    """A `Problem` whose repr names shapes and scalars only (thousands of samples)."""

    def __repr__(self) -> str:
        return f"VarianceProblem({self.describe()})"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(repr(self))


@st.composite
def variance_problems(draw, dtype: str = "float64", restrict=None):
    """q (N, 1, d) Rademacher, k (N, 2, d) standard normal, v (N, 2, 2) = I_2 per row ([I_2 | 0], (N, 2, d), under
    attention_value_dim); scalar d."""
    d = draw(st.sampled_from(VARIANCE_D), label="d")
    seed = draw(SEED, label="seed")
    rng = np.random.default_rng(seed)
    N = VARIANCE_N
    dv = d if (restrict or {}).get("attention_value_dim") is not None else 2
    arrays = {"q": rng.choice((-1.0, 1.0), size=(N, 1, d)), "k": rng.standard_normal((N, 2, d)),
              "v": np.broadcast_to(np.eye(2, dv), (N, 2, dv)).copy()}
    return VarianceProblem(_cast(arrays, dtype), {"d": d, "N": N, "dv": dv, "seed": seed})
