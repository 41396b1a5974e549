"""Hypothesis strategies: shapes are drawn too, weights get random signs and scales, never constant.

Arrays come from a drawn seed through NumPy's PCG64, so an example is (shape, scales, seed): small,
shrinkable and reproducible. Values are cast to the target's dtype before anyone sees them, so the
oracle and the target get bit-identical inputs. Scales reach saturation (|a| up to ~10) and the
contracting and expanding regimes of W_h. The ends of the range (|pre-activation| up to 1e4, exact zeros,
subnormals, sums of squares that overflow or underflow) come from `extreme_cell_problems` and
`extreme_gradient_lists` (properties/extremes.py). In the 16-bit formats the ordinary strategies stay valid: their
largest magnitudes (bias scale 30 times a few standard deviations, sums of a few such terms) are far below float16's
max 65504, and an entry that lands below float16's smallest normal 6.1e-5 (at most about 1e-3 of the draws) is exact
there, its products charged by the gradual-underflow terms the float16 model always carries
(tolerances.NEAR_UNDERFLOW); bfloat16 has float32's range. The extremes strategies are float32/float64 only.
Not generated yet: NaN/inf inputs (the hostile-target
suite), T = 0 (checked by deterministic examples).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from hypothesis import strategies as st

from dlproof.parameters import BLOCKS, GATES, GRU_HIDDEN_BIAS, PARAMS

from . import shapes

SCALES = (0.1, 0.5, 1.0, 2.0, 4.0)
BIAS_SCALES = (0.1, 1.0, 5.0, 30.0)  # 30 saturates the gates (|pre-activation| up to ~30)

# the strategies drawn in every example, built once (the same strategies; only the per-draw lookup is saved)
_SCALE = st.sampled_from(SCALES)
_BIAS_SCALE = st.sampled_from(BIAS_SCALES)
SEED = st.integers(0, 2 ** 32 - 1)


@lru_cache(maxsize=None)
def _free_ints(lo: int, hi: int):
    return st.integers(lo, hi)


def _ints(lo: int, hi: int):
    """The size hook: a size in [lo, hi], ``st.integers(lo, hi)`` (the free draw), unless the example is drawn
    under bounded shapes (`shapes.bounded`), where it is the active slot's size (properties/shapes.py)."""
    slot = shapes.active()
    return _free_ints(lo, hi) if slot is None else st.just(slot.size(lo, hi))


#: the size hook under its public name, for strategies outside this module (draw every size through it)
size = _ints


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


def signed(rng, shape, scale):
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
    seed = draw(SEED, label="seed")
    rng = _rng(seed)
    dt = np.dtype(dtype)
    arrays = {
        "W_x": signed(rng, (n, m), w_scale / np.sqrt(m)),
        "W_h": signed(rng, (n, n), w_scale / np.sqrt(n)),
        "b": signed(rng, (n,), w_scale),
        "xs": signed(rng, (T, B, m), x_scale),
        "h0": np.tanh(signed(rng, (B, n), 1.0)),
        "d_hs": signed(rng, (T, B, n), 1.0),
        "d_hT": signed(rng, (B, n), 1.0),
        "direction": signed(rng, (n * m + n * n + n + T * B * m + B * n,), 1.0),
    }
    arrays = {k: v.astype(dt, copy=False) for k, v in arrays.items()}
    return Problem(arrays, {"n": n, "m": m, "B": B, "T": T, "seed": seed, "w_scale": w_scale, "x_scale": x_scale})


@st.composite
def gradient_lists(draw, dtype: str = "float64", max_tensors: int = 4):
    """A list of 1-4 gradient tensors of mixed shapes, a max_norm, and where the norm sits relative to it."""
    k = draw(st.integers(1, max_tensors), label="tensors")
    shapes = [tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=2), label=f"shape{i}")) for i in range(k)]
    seed = draw(SEED, label="seed")
    regime = draw(st.sampled_from(("below", "above", "far_above", "far_below")), label="regime")
    overall = draw(st.sampled_from((1.0, 1e-3)), label="overall scale")  # small norms make eps visible
    rng = _rng(seed)
    dt = np.dtype(dtype)
    grads = [signed(rng, s, overall * float(rng.choice(SCALES))).astype(dt) for s in shapes]
    norm = float(np.sqrt(sum(np.sum(np.asarray(g, np.float64) ** 2) for g in grads)))
    factor = {"below": 1.25, "far_below": 10.0, "above": 0.8, "far_above": 0.05}[regime]
    max_norm = float(np.asarray(norm * factor, dt)) if norm > 0 else 1.0
    return Problem({f"g{i}": g for i, g in enumerate(grads)},
                   {"max_norm": max_norm, "regime": regime, "seed": seed, "clip_value": float(rng.choice(SCALES))})


def _gated_params(rng, names, n, m, w_scale, b_scale):
    out = {}
    for k in names:
        if k.startswith("W_x"):
            out[k] = signed(rng, (n, m), w_scale / np.sqrt(m))
        elif k.startswith("W_h"):
            out[k] = signed(rng, (n, n), w_scale / np.sqrt(n))
        else:
            out[k] = signed(rng, (n,), b_scale)
    return out


@st.composite
def gated_problems(draw, kind: str, dtype: str = "float64", max_n: int = 4, max_m: int = 3, max_B: int = 3,
                   max_T: int = 4, min_T: int = 1):
    """LSTM ("lstm") or GRU ("gru") problems: params by protocol name, xs, h0 (and c0), cotangents, a direction.
    Bias scales reach saturated gates (|pre-activation| up to ~30) as well as the linear regime."""
    names = PARAMS[kind]
    n = draw(_ints(1, max_n), label="n")
    m = draw(_ints(1, max_m), label="m")
    B = draw(_ints(1, max_B), label="B")
    T = draw(_ints(min_T, max_T), label="T")
    w_scale = draw(_SCALE, label="W scale")
    b_scale = draw(_BIAS_SCALE, label="b scale")
    x_scale = draw(_SCALE, label="x scale")
    seed = draw(SEED, label="seed")
    rng = _rng(seed)
    arrays = _gated_params(rng, names, n, m, w_scale, b_scale)
    arrays.update({
        "xs": signed(rng, (T, B, m), x_scale),
        "h0": np.tanh(signed(rng, (B, n), 1.0)),
        "c0": signed(rng, (B, n), 1.0),
        "d_hs": signed(rng, (T, B, n), 1.0),
        "d_hT": signed(rng, (B, n), 1.0),
        "d_cT": signed(rng, (B, n), 1.0),
    })
    size = sum(a.size for k, a in arrays.items() if k in names) + T * B * m + B * n * (2 if kind == "lstm" else 1)
    arrays["direction"] = signed(rng, (size,), 1.0)
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
            w = signed(rng, v.shape, scale)
            arrays[f"bwd:{k}"] = (np.tanh(w) if k == "h0" else w).astype(v.dtype)
    return Problem(arrays, dict(problem.scalars))


def bi_problems(kind: str, dtype: str = "float64", **kw):
    """Problems for rnn_bi / lstm_bi / gru_bi: forward params as usual, backward ones under "bwd:"."""
    base = rnn_problems(dtype=dtype, **kw) if kind == "rnn" else gated_problems(kind, dtype=dtype, **kw)
    return base.map(with_backward_direction)


# ---- extremes (properties/extremes.py): saturation, exact zeros, subnormals, huge and tiny norms --------------

#: pre-activation scales of the extreme cells: |W_x x + W_h h + b| reaches about this (1e4: every gate saturated)
EXTREME_SCALES = (1.0, 30.0, 1e2, 1e3, 1e4)
_EXTREME_SCALE = st.sampled_from(EXTREME_SCALES)
#: magnitude classes of an input column: exact zero, subnormal, tiny normal, order one (c also "big": ~ scale)
MAGNITUDE_CLASSES = ("zero", "subnormal", "tiny", "unit", "big")


def _log10_range(dt: np.dtype, cls: str) -> tuple:
    fi = np.finfo(dt)
    sub = float(fi.smallest_subnormal)
    if cls == "subnormal":  # [4 eta, smallest normal): a subnormal after the cast, never 0
        return np.log10(4 * sub), np.log10(float(fi.tiny)) - 0.05
    if cls == "tiny":  # normal, far below 1
        return np.log10(float(fi.tiny)) + 1, (-20.0 if dt == np.float32 else -100.0)
    raise ValueError(cls)


def _magnitudes(rng, dt, classes, scale):
    """One reference magnitude per column (0 for the zero class)."""
    out = np.empty(len(classes))
    for j, cls in enumerate(classes):
        if cls == "zero":
            out[j] = 0.0
        elif cls in ("subnormal", "tiny"):
            lo, hi = _log10_range(dt, cls)
            out[j] = 10.0 ** rng.uniform(lo, hi)
        elif cls == "unit":
            out[j] = 1.0
        else:  # big
            out[j] = scale
    return out


def _columns(rng, B, mags):
    """(B, k) entries: random sign times mag_j times U(0.5, 1) (zeros stay exact zeros)."""
    return rng.choice((-1.0, 1.0), size=(B, len(mags))) * mags * rng.uniform(0.5, 1.0, size=(B, len(mags)))


def _extreme_weights(rng, dt, n, mags, scale, K):
    """(n, k) weights whose products with a column of magnitude mag_j are about scale / sqrt(K): a subnormal
    input times a huge weight is a normal contribution, so a target that flushes it to zero is caught.
    The factor is capped at max / 64 (|N(0,1)| stays far below 16), so no weight overflows the dtype."""
    cap = float(np.finfo(dt).max) / 64
    target = scale / np.sqrt(K)
    factor = np.array([target if m == 0 else (cap if m * cap < target else min(cap, target / m)) for m in mags])
    W = rng.standard_normal((n, len(mags))) * factor
    return np.clip(W, -16 * cap, 16 * cap)


@st.composite
def extreme_cell_problems(draw, kind: str, dtype: str = "float64", max_n: int = 3, max_m: int = 3, max_B: int = 2):
    """One cell step at the extremes: pre-activations up to ``scale`` (1e4 saturates every gate), input columns
    of x and h (and c) each an exact zero, a subnormal, a tiny normal or order one (c also ~ scale), weights
    scaled so every column contributes about scale / sqrt(m + n + 1), a few gate rows exactly zero
    (pre-activation exactly 0). Arrays: x (B, m), h (B, n), c (B, n) for "lstm", params by protocol name."""
    if kind not in ("rnn", "lstm", "gru"):
        raise ValueError(f"extreme_cell_problems: kind={kind!r}, but should be 'rnn', 'lstm' or 'gru'")
    n = draw(_ints(1, max_n), label="n")
    m = draw(_ints(1, max_m), label="m")
    B = draw(_ints(1, max_B), label="B")
    scale = draw(_EXTREME_SCALE, label="pre-activation scale")
    seed = draw(SEED, label="seed")
    rng = _rng(seed)
    dt = np.dtype(dtype)
    p_cls = (0.2, 0.3, 0.15, 0.35)
    x_cls = [str(v) for v in rng.choice(MAGNITUDE_CLASSES[:4], size=m, p=p_cls)]
    h_cls = [str(v) for v in rng.choice(MAGNITUDE_CLASSES[:4], size=n, p=p_cls)]
    x_mag, h_mag = _magnitudes(rng, dt, x_cls, scale), _magnitudes(rng, dt, h_cls, scale)
    K = m + n + 1
    arrays = {"x": _columns(rng, B, x_mag), "h": np.clip(_columns(rng, B, h_mag), -1.0, 1.0)}
    if kind == "lstm":
        c_cls = [str(v) for v in rng.choice(MAGNITUDE_CLASSES, size=n, p=(0.2, 0.25, 0.15, 0.2, 0.2))]
        arrays["c"] = _columns(rng, B, _magnitudes(rng, dt, c_cls, scale))
    for q, (wx, wh, bias) in zip(GATES[kind], BLOCKS[kind]):
        arrays[wx] = _extreme_weights(rng, dt, n, x_mag, scale, K)
        arrays[wh] = _extreme_weights(rng, dt, n, h_mag, scale, K)
        biases = (bias, GRU_HIDDEN_BIAS) if (kind, q) == ("gru", "n") else (bias,)
        for bn in biases:
            arrays[bn] = rng.standard_normal(n) * scale / np.sqrt(K)
        dead = rng.random(n) < 0.15  # rows whose pre-activation is exactly 0
        for k_ in (wx, wh) + biases:
            arrays[k_][dead] = 0.0
    arrays = {k: v.astype(dt) for k, v in arrays.items()}
    scalars = {"n": n, "m": m, "B": B, "scale": scale, "seed": seed, "x classes": x_cls, "h classes": h_cls}
    if kind == "lstm":
        scalars["c classes"] = c_cls
    return Problem(arrays, scalars)


def scaled_norm(grads) -> float:
    """sqrt(sum g^2) in float64 without overflow or underflow (s sqrt(sum (g/s)^2), s = max |g|)."""
    flat = np.concatenate([np.ravel(np.asarray(g, np.float64)) for g in grads])
    s = float(np.max(np.abs(flat))) if flat.size else 0.0
    return 0.0 if s == 0.0 else s * float(np.sqrt(np.sum((flat / s) ** 2)))


#: max_norm relative to the drawn norm N; "unit" is max_norm = 1 (a typical setting)
EXTREME_CLIP_REGIMES = {"far_below": 10.0, "below": 1.25, "above": 0.8, "far_above": 0.05, "unit": None}
_CLIP_WHERE = st.sampled_from(tuple(EXTREME_CLIP_REGIMES))


@st.composite
def extreme_gradient_lists(draw, dtype: str = "float64", regime: str = "huge", max_tensors: int = 3):
    """Gradient lists whose sum of squares leaves the dtype's range while the norm N stays a normal number.

    "huge": every tensor either overflows on its own (its norm >= 4 sqrt(max), so sum g^2 >= 16 max, whatever
    the rounding) or stays far from it (norm <= sqrt(max) / 4), at least one overflows; N <= max / 16.
    "tiny": every |g| <= sqrt(eta) / 4 (eta the smallest subnormal), so every square is < eta / 16 and rounds
    to 0, while N >= the largest |g|, a normal number; some entries are subnormal, some tensors all zero.
    Entries carry exact zeros too; max_norm is N times 10, 1.25, 0.8, 0.05, or 1."""
    if regime not in ("huge", "tiny"):
        raise ValueError(f"extreme_gradient_lists: regime={regime!r}, but should be 'huge' or 'tiny'")
    dt = np.dtype(dtype)
    fi = np.finfo(dt)
    k = draw(_ints(1, max_tensors), label="tensors")
    shapes = [tuple(draw(_ints(1, 3), label=f"shape{i}[{j}]") for j in range(draw(_ints(1, 2), label=f"ndim{i}")))
              for i in range(k)]
    seed = draw(SEED, label="seed")
    where = draw(_CLIP_WHERE, label="max_norm regime")
    rng = _rng(seed)
    big, sub = float(fi.max), float(fi.smallest_subnormal)
    grads = []
    for i, s in enumerate(shapes):
        v = rng.standard_normal(s)
        v[rng.random(s) < 0.2] = 0.0
        v.flat[int(rng.integers(v.size))] = rng.choice((-1.0, 1.0)) * rng.uniform(0.5, 1.0)  # never all zero
        if regime == "huge":
            overflow = i == 0 or rng.random() < 0.5
            lo, hi = (np.log10(4 * np.sqrt(big)), np.log10(big / 64)) if overflow else (0.0, np.log10(np.sqrt(big) / 4))
            g = v / np.sqrt(np.sum(v * v)) * 10.0 ** rng.uniform(lo, hi)
        else:
            if i > 0 and rng.random() < 0.2:
                g = np.zeros(s)
            else:
                hi = np.log10(np.sqrt(sub) / 4)
                g = v / np.max(np.abs(v)) * 10.0 ** rng.uniform(hi - 7, hi)
                lo_s, hi_s = _log10_range(dt, "subnormal")
                subn = rng.random(s) < 0.2
                subn.flat[int(np.argmax(np.abs(g)))] = False  # the largest entry stays normal: N is a normal number
                k_sub = int(subn.sum())
                g[subn] = rng.choice((-1.0, 1.0), size=k_sub) * 10.0 ** rng.uniform(lo_s, hi_s, size=k_sub)
        grads.append(g.astype(dt))
    N = scaled_norm(grads)
    factor = EXTREME_CLIP_REGIMES[where]
    max_norm = 1.0 if factor is None or N == 0 else float(np.asarray(N * factor, dt))
    return Problem({f"g{i}": g for i, g in enumerate(grads)},
                   {"max_norm": max_norm, "regime": regime, "max_norm regime": where, "seed": seed})
