"""Properties of dropout: the values of the rule, the statistics of the mask, inference, seeding, the gradient.

p is the drop probability, q = 1 - p. Exact checks (values, inference, seed, vjp) compare entry-wise within
rounding; statistical checks (keep_rate, mean, variance, the seed's second mask) compare a sum over the mask with
its derived expectation within a concentration bound of false-alarm probability ALPHA = 1e-10 per check
(properties/concentration.py: Hoeffding, Bernstein, the binomial KL tail; the union bound over a full run,
every target and profile, is below 1e-4). A wrong scale (p, q or 1 instead of 1/q) moves the sums by a
multiple of sum |x|, far beyond the bounds for n >= 1000 unless p is near 0 or the wrong scale happens to
coincide with 1/q (p = 0).

Rounding (the error model of properties/tolerances.py): a kept entry fl(x / q) or fl(x * fl(1/fl(1 - p))) is
within ROUND_ULPS = 4 rounding errors of x/q, relative; with SAFETY = 2 and u = u_target + u_float64 the
entry-wise tolerance is 8 u |x|/q (likewise |dy|/q for the gradient). The sums are formed in float64 from the
target's outputs: their slack adds each entry's tolerance and gamma_{n+2} times the sum of magnitudes.

Precisions: bfloat16, float32, float64 (`PRECISIONS`); float16's smallest normal (6.1e-5) is above the smallest
drawn |x|, where the relative model does not hold.

**Strategy**: x with random signs and scales and no exact zeros, p, seeds.

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
import random
import sys

import numpy as np
from hypothesis import strategies as st

from dlproof.derivations import oracle_dropout as od

from . import concentration as conc
from . import tolerances as tol
from .assertions import call, number
from .registry import prop
from .strategies import SCALES, SEED, Problem

# ---- strategy ----------------------------------------------------------------------------------------------------

P_CHOICES = (0.0, 0.1, 0.25, 0.5, 0.8)
X_STREAM = 0xD209
SIZES = ("statistical", "any")

_P = st.one_of(st.sampled_from(P_CHOICES), st.floats(0.0, 0.9, allow_nan=False, allow_infinity=False))


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
    seed = draw(SEED, label="seed")
    seed2 = draw(SEED.filter(lambda s: s != seed), label="second seed")
    x_seed = draw(SEED, label="x seed")
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


# ---- properties --------------------------------------------------------------------------------------------------

ROUND_ULPS = 4.0
#: bfloat16 keeps float32's exponent range: the smallest drawn |x| (5e-5) and x / q stay normal, the relative model
#: holds; float16 is left out: 5e-5 is subnormal there (smallest normal 6.1e-5), where a rounding errs absolutely
PRECISIONS = ("bfloat16", "float32", "float64")
CAPS = ("dropout",)


def _stat(target):
    return dropout_problems(dtype=target.dtype, size="statistical")


def _any(target):
    return dropout_problems(dtype=target.dtype, size="any")


def _rel(target) -> float:
    """Entry-wise relative tolerance of y against m x / q (module doc)."""
    return tol.SAFETY * ROUND_ULPS * tol.u_total(tol.precision(target))


def _forward(target, chk, x, p, training, seed, what="dropout(x, p, training, seed)"):
    y = call(target, "dropout", x, p, training, seed)
    return chk.array(what, y, x.shape).astype(np.float64)


def _scale_hint(x, y, q, p, rel) -> str:
    """What the kept entries are scaled by, if not 1/q: names p, q or 1 when it matches."""
    kept = y != 0
    if not kept.any():
        return ""
    r = float(np.median(y[kept] / x[kept]))
    if abs(r - 1.0 / q) <= 4 * rel / q:
        return ""
    names = [name for name, v in (("p", p), ("q = 1 - p", q), ("1 (no scaling)", 1.0))
             if abs(r - v) <= 4 * rel * max(1.0, v)]
    return (f"; the kept entries are y = r x with r = {r:.6g}" + (f" = {names[0]}" if names else "")
            + f", but should be r = 1/q = {1.0 / q:.6g} (inverted dropout)")


def _within(chk, quantity: str, value: float, expected: float, bound: float, why: str) -> None:
    """|value - expected| <= bound (bound > 0), else a failure that says why that is the bound."""
    ratio = abs(value - expected) / max(bound, np.finfo(np.float64).tiny)
    chk.worst = max(chk.worst, ratio)
    if ratio > 1.0:
        chk.fail(quantity, f"= {value:.10g}, but should be {expected:.10g} within {bound:.4g} ({ratio:.3g} x the "
                           f"bound; {why})")


def _sum_slack(terms, entry_err) -> float:
    """Rounding slack of sum(terms) formed in float64 from outputs each within entry_err of exact."""
    n = int(np.size(terms))
    return float(np.sum(entry_err)) + tol.gamma(n + 2, tol.UNIT_ROUNDOFF["float64"]) * float(np.sum(np.abs(terms)))


@prop("dropout.values", title="training: every y_i is 0 or x_i / q (inverted scaling)", capabilities=CAPS,
      derivations=("dropout.inverted.rule",), strategy=_any, precisions=PRECISIONS)
def values(target, problem, chk):
    x, p, seed = problem["x"], problem["p"], problem["seed"]
    q, xf = 1.0 - p, x.astype(np.float64)
    y = _forward(target, chk, x, p, True, seed)
    rel = _rel(target)
    kept = y != 0
    bad = kept & (np.abs(y - od.kept_value(xf, q)) > rel * np.abs(xf) / q)
    if bad.any():
        i = tuple(int(v) for v in np.argwhere(bad)[0])
        chk.fail("y", f"entry {i} = {number(y[i])} is neither 0 nor x/q = {number(xf[i] / q)} (x = {number(xf[i])}, q = {number(q)}, within "
                      f"{rel * abs(xf[i]) / q:.3g}); {int(bad.sum())} of {y.size} entries"
                      + _scale_hint(xf, y, q, p, rel))


@prop("dropout.keep_rate", title="the kept count is Binomial(n, q): within the KL tail bound of n q",
      capabilities=CAPS, derivations=("dropout.count.binomial", "dropout.concentration.binomial_kl"), strategy=_stat, precisions=PRECISIONS)
def keep_rate(target, problem, chk):
    x, p, seed = problem["x"], problem["p"], problem["seed"]
    q = 1.0 - p
    y = _forward(target, chk, x, p, True, seed)
    n, K = y.size, int(np.count_nonzero(y))
    lo, hi = conc.binomial_interval(n, q)
    if not lo <= K <= hi:
        swapped = n > 0 and abs(K / n - p) < abs(K / n - q)
        chk.fail("kept count (y != 0)",
                 f"K = {K} of n = {n} (fraction {K / n:.4g}), but should be Binomial(n, q = {q:.6g}): in [{lo}, {hi}] "
                 f"around n q = {n * q:.6g} (Hoeffding's KL tail, false alarm <= {conc.ALPHA:g})"
                 + ("; the kept fraction is near p: entries look kept with probability p instead of 1 - p (drop and "
                    "keep probabilities swapped)" if swapped else ""))
    chk.worst = max(chk.worst, abs(K - n * q) / max(hi - n * q, n * q - lo, 1e-300))


@prop("dropout.mean", title="E[y] = x: sum w (y - x) within the Hoeffding/Bernstein bound (w = 1 and w = sign x)",
      capabilities=CAPS, derivations=("dropout.inverted.mean", "dropout.deviation.moments", "dropout.two_point.moments",
                                      "dropout.concentration.hoeffding", "dropout.concentration.bernstein"),
      strategy=_stat, precisions=PRECISIONS)
def mean(target, problem, chk):
    x, p, seed = problem["x"], problem["p"], problem["seed"]
    q, xf = 1.0 - p, x.astype(np.float64)
    y = _forward(target, chk, x, p, True, seed)
    rel = _rel(target)
    kept, dropped = od.deviation_terms(xf, q)
    for label, w in (("sum(y - x)", 1.0), ("sum(sign(x) (y - x))", np.sign(xf))):
        terms = w * (y - xf)
        bound = conc.two_point_threshold(w * kept, w * dropped, q)
        slack = _sum_slack(terms, np.abs(w) * rel * np.abs(xf) / q)
        _within(chk, label, float(np.sum(terms)), bound["mean"], bound["threshold"] + slack,
                f"E = 0 by dropout.inverted.mean; n = {y.size}, q = {q:.6g}, min(Hoeffding {bound['hoeffding']:.4g}, "
                f"Bernstein {bound['bernstein']:.4g}) at false alarm {conc.ALPHA:g}" + _scale_hint(xf, y, q, p, rel))


@prop("dropout.variance", title="E[(y - x)^2] = x^2 (1 - q)/q: the sum within the Hoeffding/Bernstein bound",
      capabilities=CAPS, derivations=("dropout.inverted.variance", "dropout.deviation.moments",
                                      "dropout.two_point.moments", "dropout.concentration.hoeffding",
                                      "dropout.concentration.bernstein"), strategy=_stat, precisions=PRECISIONS)
def variance(target, problem, chk):
    x, p, seed = problem["x"], problem["p"], problem["seed"]
    q, xf = 1.0 - p, x.astype(np.float64)
    y = _forward(target, chk, x, p, True, seed)
    rel = _rel(target)
    kept, dropped = od.squared_deviation_terms(xf, q)
    terms = (y - xf) ** 2
    e = rel * np.abs(xf) / q  # |y_target - m x/q| per entry
    dev_max = np.abs(xf) * max(1.0, p / q)  # |m x/q - x|
    bound = conc.two_point_threshold(kept, dropped, q)
    slack = _sum_slack(terms, e * (2 * dev_max + e)) + tol.gamma(terms.size + 2, tol.UNIT_ROUNDOFF["float64"]) * \
        float(np.sum(od.squared_deviation_mean(xf, q)))
    _within(chk, "sum((y - x)^2)", float(np.sum(terms)), float(np.sum(od.squared_deviation_mean(xf, q))),
            bound["threshold"] + slack,
            f"E = sum x^2 (1 - q)/q by dropout.inverted.variance; n = {y.size}, q = {q:.6g}, min(Hoeffding "
            f"{bound['hoeffding']:.4g}, Bernstein {bound['bernstein']:.4g}) at false alarm {conc.ALPHA:g}"
            + _scale_hint(xf, y, q, p, rel))


@prop("dropout.inference.identity", title="inference (training=False) returns x exactly, as a new array",
      capabilities=CAPS, derivations=("dropout.inference.identity",), strategy=_any, precisions=PRECISIONS)
def inference(target, problem, chk):
    x, p, seed = problem["x"], problem["p"], problem["seed"]
    y = call(target, "dropout", x, p, False, seed)
    chk.array("dropout(x, p, training=False, seed)", y, x.shape)
    if not np.array_equal(y, x):
        diff = np.argwhere(y != x)
        i = tuple(int(v) for v in diff[0])
        chk.fail("dropout(x, p, training=False, seed)",
                 f"entry {i} = {number(y[i])}, but should be x = {number(x[i])} bitwise (inference is the identity; "
                 f"{len(diff)} of {x.size} entries differ"
                 + ("; dropout looks applied at inference" if np.any(y == 0) else "") + ")")
    chk.holds("dropout(x, p, training=False, seed)", not np.shares_memory(y, x),
              "returned an array sharing memory with the input x, but should return a copy")


def _rng_states():
    states = {"random": random.getstate(), "numpy.random": np.random.get_state(legacy=False)}
    torch = sys.modules.get("torch")
    if torch is not None:
        states["torch"] = torch.random.get_rng_state().numpy().tobytes()
    return states


def _same_state(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_state(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    return a == b


@prop("dropout.seed.deterministic",
      title="the same seed gives the same y, another seed another mask, p = 0 gives x; the global RNGs untouched",
      capabilities=CAPS, derivations=("dropout.inverted.rule", "dropout.seed.agreement"), strategy=_any, precisions=PRECISIONS)
def seed_deterministic(target, problem, chk):
    x, p, seed, seed2 = problem["x"], problem["p"], problem["seed"], problem["seed2"]
    q, xf = 1.0 - p, x.astype(np.float64)
    before = _rng_states()
    y1 = _forward(target, chk, x, p, True, seed)
    y2 = _forward(target, chk, x, p, True, seed)
    after = _rng_states()
    changed = [k for k in before if not _same_state(before[k], after[k])]
    chk.holds("global RNG state", not changed,
              f"dropout changed the global RNG state of {changed}, but should draw from its seed only and leave "
              "the caller's RNG state untouched")
    if not np.array_equal(y1, y2):
        i = tuple(int(v) for v in np.argwhere(y1 != y2)[0])
        chk.fail("dropout(x, p, True, seed) twice", f"entry {i} = {number(y1[i])} then {number(y2[i])}, but should be the same: "
                                                    "the same seed must give the same mask")
    y0 = _forward(target, chk, x, 0.0, True, seed, "dropout(x, p=0, True, seed)")
    rel = _rel(target)
    bad = np.abs(y0 - xf) > rel * np.abs(xf)
    if bad.any():
        i = tuple(int(v) for v in np.argwhere(bad)[0])
        chk.fail("dropout(x, p=0, True, seed)", f"entry {i} = {number(y0[i])}, but should be x = {number(xf[i])} (q = 1: every "
                                                f"entry kept, scale 1); {int(bad.sum())} of {x.size} entries differ")
    if od.mask_agreement(x.size, q) <= conc.ALPHA:
        y3 = _forward(target, chk, x, p, True, seed2, "dropout(x, p, True, seed2)")
        chk.holds("masks of two seeds", not np.array_equal(y1 != 0, y3 != 0),
                  f"seeds {seed} and {seed2} gave the same mask of {x.size} entries, but should give independent "
                  f"masks (they agree with probability (q^2 + p^2)^n = {od.mask_agreement(x.size, q):.3g}): the "
                  "seed looks ignored")


@prop("dropout.vjp", title="dropout_vjp = m * dy / q with the mask of dropout(x, p, True, seed)",
      capabilities=("dropout", "dropout_vjp"), derivations=("dropout.vjp",), strategy=_any, precisions=PRECISIONS)
def vjp(target, problem, chk):
    x, dy, p, seed = problem["x"], problem["dy"], problem["p"], problem["seed"]
    q, dyf = 1.0 - p, dy.astype(np.float64)
    y = _forward(target, chk, x, p, True, seed)
    m = y != 0
    dx = call(target, "dropout_vjp", x, p, seed, dy)
    dx = chk.array("dropout_vjp(x, p, seed, dy)", dx, x.shape)
    tolv = _rel(target) * np.abs(dyf) / q
    expected = np.where(m, dyf / q, 0.0)
    if np.any(np.abs(dx.astype(np.float64) - expected) > tolv):
        other = int(np.count_nonzero((dx != 0) != m))
        hint = (f"; dx is zero/non-zero unlike y = dropout(x, p, True, seed) in {other} of {x.size} entries: a "
                "different mask" if other else "")
        if not other and m.any():
            r = float(np.median(dx[m] / dyf[m]))
            hint = f"; kept entries are dx = r dy with r = {r:.6g}, but should be r = 1/q = {1.0 / q:.6g}"
        chk.close("dropout_vjp(x, p, seed, dy)" + hint, dx, expected, tolv)
    else:
        chk.close("dropout_vjp(x, p, seed, dy)", dx, expected, tolv)
