"""Hypothesis strategies: shapes are drawn too, weights get random signs and scales, never constant.

Arrays come from a drawn seed through NumPy's PCG64, so an example is (shape, scales, seed): small,
shrinkable and reproducible. Values are cast to the target's dtype before anyone sees them, so the
oracle and the target get bit-identical inputs. Scales reach saturation (|a| up to ~10) and the
contracting and expanding regimes of W_h. Not generated yet: NaN/inf inputs (the hostile-target
suite), T = 0 (checked by deterministic examples).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from hypothesis import strategies as st

SCALES = (0.1, 0.5, 1.0, 2.0, 4.0)
BIAS_SCALES = (0.1, 1.0, 5.0, 30.0)  # 30 saturates the gates (|pre-activation| up to ~30)

# the strategies drawn in every example, built once (the same strategies; only the per-draw lookup is saved)
_SCALE = st.sampled_from(SCALES)
_BIAS_SCALE = st.sampled_from(BIAS_SCALES)
_SEED = st.integers(0, 2 ** 32 - 1)


@lru_cache(maxsize=None)
def _ints(lo: int, hi: int):
    return st.integers(lo, hi)


@dataclass
class Problem:
    """One drawn example: named arrays in the target's dtype plus scalars."""

    arrays: dict
    scalars: dict = field(default_factory=dict)

    def __getitem__(self, k):
        return self.arrays[k] if k in self.arrays else self.scalars[k]

    def describe(self) -> str:
        shapes = ", ".join(f"{k}{tuple(v.shape)}" for k, v in self.arrays.items() if hasattr(v, "shape"))
        return f"{shapes}; {self.scalars}"


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _signed(rng, shape, scale):
    """Standard-normal entries (random signs) times the drawn scale: asymmetric, never constant."""
    return scale * rng.standard_normal(shape)  # float64 already


@st.composite
def rnn_problems(draw, dtype: str = "float64", max_n: int = 5, max_m: int = 4, max_B: int = 3, max_T: int = 5,
                 min_T: int = 1):
    """xs (T,B,m), h0 (B,n), params W_x (n,m), W_h (n,n), b (n,), cotangents d_hs, d_hT."""
    n = draw(_ints(1, max_n), label="n")
    m = draw(_ints(1, max_m), label="m")
    B = draw(_ints(1, max_B), label="B")
    T = draw(_ints(min_T, max_T), label="T")
    w_scale = draw(_SCALE, label="W scale")
    x_scale = draw(_SCALE, label="x scale")
    seed = draw(_SEED, label="seed")
    rng = _rng(seed)
    dt = np.dtype(dtype)
    arrays = {
        "W_x": _signed(rng, (n, m), w_scale / np.sqrt(m)),
        "W_h": _signed(rng, (n, n), w_scale / np.sqrt(n)),
        "b": _signed(rng, (n,), w_scale),
        "xs": _signed(rng, (T, B, m), x_scale),
        "h0": np.tanh(_signed(rng, (B, n), 1.0)),
        "d_hs": _signed(rng, (T, B, n), 1.0),
        "d_hT": _signed(rng, (B, n), 1.0),
        "direction": _signed(rng, (n * m + n * n + n + T * B * m + B * n,), 1.0),
    }
    arrays = {k: v.astype(dt, copy=False) for k, v in arrays.items()}
    return Problem(arrays, {"n": n, "m": m, "B": B, "T": T, "seed": seed, "w_scale": w_scale, "x_scale": x_scale})


@st.composite
def gradient_lists(draw, dtype: str = "float64", max_tensors: int = 4):
    """A list of 1-4 gradient tensors of mixed shapes, a max_norm, and where the norm sits relative to it."""
    k = draw(st.integers(1, max_tensors), label="tensors")
    shapes = [tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=2), label=f"shape{i}")) for i in range(k)]
    seed = draw(_SEED, label="seed")
    regime = draw(st.sampled_from(("below", "above", "far_above", "far_below")), label="regime")
    overall = draw(st.sampled_from((1.0, 1e-3)), label="overall scale")  # small norms make eps visible
    rng = _rng(seed)
    dt = np.dtype(dtype)
    grads = [_signed(rng, s, overall * float(rng.choice(SCALES))).astype(dt) for s in shapes]
    norm = float(np.sqrt(sum(np.sum(np.asarray(g, np.float64) ** 2) for g in grads)))
    factor = {"below": 1.25, "far_below": 10.0, "above": 0.8, "far_above": 0.05}[regime]
    max_norm = float(np.asarray(norm * factor, dt)) if norm > 0 else 1.0
    return Problem({f"g{i}": g for i, g in enumerate(grads)},
                   {"max_norm": max_norm, "regime": regime, "seed": seed, "clip_value": float(rng.choice(SCALES))})


LSTM_GATES = ("i", "f", "g", "o")
GRU_PARAMS = ("W_xr", "W_hr", "b_r", "W_xz", "W_hz", "b_z", "W_xn", "W_hn", "b_xn", "b_hn")
LSTM_PARAMS = tuple(f"{w}{q}" for q in LSTM_GATES for w in ("W_x", "W_h", "b_"))


def _gated_params(rng, names, n, m, w_scale, b_scale):
    out = {}
    for k in names:
        if k.startswith("W_x"):
            out[k] = _signed(rng, (n, m), w_scale / np.sqrt(m))
        elif k.startswith("W_h"):
            out[k] = _signed(rng, (n, n), w_scale / np.sqrt(n))
        else:
            out[k] = _signed(rng, (n,), b_scale)
    return out


@st.composite
def gated_problems(draw, kind: str, dtype: str = "float64", max_n: int = 4, max_m: int = 3, max_B: int = 3,
                   max_T: int = 4, min_T: int = 1):
    """LSTM ("lstm") or GRU ("gru") problems: params by protocol name, xs, h0 (and c0), cotangents, a direction.
    Bias scales reach saturated gates (|pre-activation| up to ~30) as well as the linear regime."""
    names = LSTM_PARAMS if kind == "lstm" else GRU_PARAMS
    n = draw(_ints(1, max_n), label="n")
    m = draw(_ints(1, max_m), label="m")
    B = draw(_ints(1, max_B), label="B")
    T = draw(_ints(min_T, max_T), label="T")
    w_scale = draw(_SCALE, label="W scale")
    b_scale = draw(_BIAS_SCALE, label="b scale")
    x_scale = draw(_SCALE, label="x scale")
    seed = draw(_SEED, label="seed")
    rng = _rng(seed)
    arrays = _gated_params(rng, names, n, m, w_scale, b_scale)
    arrays.update({
        "xs": _signed(rng, (T, B, m), x_scale),
        "h0": np.tanh(_signed(rng, (B, n), 1.0)),
        "c0": _signed(rng, (B, n), 1.0),
        "d_hs": _signed(rng, (T, B, n), 1.0),
        "d_hT": _signed(rng, (B, n), 1.0),
        "d_cT": _signed(rng, (B, n), 1.0),
    })
    size = sum(a.size for k, a in arrays.items() if k in names) + T * B * m + B * n * (2 if kind == "lstm" else 1)
    arrays["direction"] = _signed(rng, (size,), 1.0)
    if kind == "gru":
        del arrays["c0"], arrays["d_cT"]
    dt = np.dtype(dtype)
    arrays = {k: v.astype(dt, copy=False) for k, v in arrays.items()}
    return Problem(arrays, {"n": n, "m": m, "B": B, "T": T, "seed": seed, "w_scale": w_scale, "b_scale": b_scale,
                            "x_scale": x_scale})


def grads_of(problem: Problem) -> list:
    return [problem.arrays[k] for k in sorted(problem.arrays, key=lambda s: int(s[1:]))]


def with_backward_direction(problem: Problem) -> Problem:
    """Add a second, independent parameter set and initial state for the backward direction ("bwd:" keys)."""
    rng = _rng(problem["seed"] ^ 0x5BD1E995)
    arrays = dict(problem.arrays)
    for k, v in problem.arrays.items():
        if k.startswith(("W_", "b")) or k in ("h0", "c0"):
            scale = float(np.std(v)) or 1.0
            w = _signed(rng, v.shape, scale)
            arrays[f"bwd:{k}"] = (np.tanh(w) if k == "h0" else w).astype(v.dtype)
    return Problem(arrays, dict(problem.scalars))


def bi_problems(kind: str, dtype: str = "float64", **kw):
    """Problems for rnn_bi / lstm_bi / gru_bi: forward params as usual, backward ones under "bwd:"."""
    base = rnn_problems(dtype=dtype, **kw) if kind == "rnn" else gated_problems(kind, dtype=dtype, **kw)
    return base.map(with_backward_direction)
