"""Activation accuracy, measured: ``act.{rnn,lstm,gru}_cell.accuracy``.

The convention ``activation_ulps`` (dlproof.target) declares |phi~(a) - phi(a)| <= activation_ulps * u for
phi = tanh, sigmoid (and exp), ABSOLUTE, u the unit roundoff of the target's dtype (2^-24 for float32): tanh and
sigmoid are bounded by 1, so u is the spacing of the floats in [1/2, 1), "ulps of 1". The whole suite's error
model charges that much per activation (properties/errmodel.py); these properties measure it.

Zero weights isolate the activations. With every W = 0 each pre-activation is 0 x + 0 h + b = b EXACTLY in any
floating-point arithmetic, any order, FMA or not (0 v = 0 for finite v, b + 0 = b), so one cell step is
activations of the biases composed with elementwise products and sums with the drawn states:

  RNN   h' = tanh(b)                                       (rnn_activation "relu" is exact: not measured)
  LSTM  c' = sigma(b_f) c + sigma(b_i) tanh(b_g),   h' = sigma(b_o) tanh(c')
  GRU   r = sigma(b_r), z = sigma(b_z);  n = tanh(b_xn + r b_hn) (reset_after) or tanh(b_xn + b_hn)
        (reset_before);  h' = z h + (1 - z) n, or n + z (h - n) as torch evaluates it

What remains besides the activations: no dot product with more than one nonzero term; each elementwise product
and sum rounds once (u of the dtype; an underflowing product adds eta, the smallest subnormal, or the smallest
normal under subnormals = "flush_to_zero"), and the GRU's candidate takes one product and one sum before its tanh.

Model: the running-error arithmetic of properties.errmodel on those formulas, with exact pre-activations and
``act`` u per activation: bound(act), nondecreasing in act (every term is). For the GRU the larger of the bounds
of the two evaluation orders above. The errmodel's first-order terms use u |exact result| where the rounding is
u |computed result| <= u (|exact| + e), so each of at most DEPTH roundings on a path scales a bound by at most
(1 + u): the bound is multiplied by MARGIN(u) = (1 + u)^DEPTH (1 + 2^-40), the last factor covering the float64
evaluation of the bound itself (a few hundred roundings of 2^-53). No SAFETY factor: what is measured is the
activations' error, not absorbed into a tolerance.

Reference: the 50-digit mpmath cells of properties.extreme_oracle on the exact inputs, rounded once to float64
(|error| <= u_64 |ref|, added to the bound), so the reference is exact enough at every dtype, float64 included.

Measured value: X = the smallest act with |out - ref| <= MARGIN bound(act) + u_64 |ref| at every entry
(bisection), in units of u of the target's dtype: the smallest activation_ulps the target could declare and be
consistent with what it returned. It passes when X u <= activation_ulps u_model, u_model the unit roundoff the
suite's model uses (tolerances.precision: the dtype's, or 2^-11 for matmul_precision = "tf32", whose model charges
its activations at that unit). A failure names the measured X ("declare activation_ulps >= X"), part "forward".

An error of N ulps of a value y with |y| < 1 (as benchmarks/gpu.py reported cuDNN's: N ulp(y), ulp(y) =
2^(e+1) u for |y| in [2^e, 2^(e+1)), e <= -1) is at most N u absolute; the measured X attributes it to the
activations through the model, so X <= N up to the elementwise roundings.

Strategy: n <= 16 units, B <= 4 rows, biases of every entry from one of five classes (the approximations'
worst region |b| <= 3, [-12, 12], saturated 10 <= |b| <= 64, tiny 2^-14 <= |b| <= 2^-3, exact 0), states h in
(-1, 1) and c at scales 0.1 to 10 (some exact zeros); every value exactly representable in the target's dtype.
"""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from dlproof.dtypes import fmt
from dlproof.parameters import BLOCKS, GRU_HIDDEN_BIAS, PARAMS

from . import errmodel as em
from . import extreme_oracle as xo
from . import tolerances as tol
from .assertions import call
from .registry import prop
from .strategies import SEED, Problem, size

KINDS = ("rnn", "lstm", "gru")
#: the dtypes the model is written for: all four (the formulas hold in any binary format; the strategy's values
#: are normal numbers of each, |b| <= 64 and |c| <= ~40 far below float16's max 65504)
PRECISIONS = ("float16", "bfloat16", "float32", "float64")
#: roundings on the longest path of a cell's formula (LSTM h': sigma, f c, i g, the sum, tanh, o tanh: 6)
DEPTH = 8
U64 = fmt("float64").u
#: measured values at or beyond this many u are no approximation of tanh/sigmoid: a wrong formula
FORMULA_BUG_ULPS = 2.0 ** 10
#: bias classes: (name, probability); the ranges are in the module doc
BIAS_CLASSES = (("worst region", 0.4), ("wide", 0.25), ("saturated", 0.15), ("tiny", 0.1), ("zero", 0.1))
MAX_N, MAX_B, MAX_M = 16, 4, 2
#: bisection steps of `required_ulps` (X to 2^-20 relative, rounded up)
BISECTIONS = 20


def margin(u: float) -> float:
    """MARGIN(u) = (1 + u)^DEPTH (1 + 2^-40): the errmodel's first-order rounding terms made rigorous (module doc)."""
    return (1.0 + u) ** DEPTH * (1.0 + 2.0 ** -40)


# ---- problems ---------------------------------------------------------------------------------------------------

def _biases(rng, size) -> np.ndarray:
    names = [c for c, _ in BIAS_CLASSES]
    cls = rng.choice(len(names), size=size, p=[p for _, p in BIAS_CLASSES])
    sign = rng.choice((-1.0, 1.0), size=size)
    draws = {"worst region": rng.uniform(-3.0, 3.0, size), "wide": rng.uniform(-12.0, 12.0, size),
             "saturated": sign * rng.uniform(10.0, 64.0, size), "tiny": sign * 2.0 ** rng.uniform(-14.0, -3.0, size),
             "zero": np.zeros(size)}
    return np.choose(cls, [draws[c] for c in names])


def zero_weight_problem(kind: str, dtype: str, rng: np.random.Generator, n: int = 8, B: int = 4, m: int = 2) -> Problem:
    """One cell step with every weight 0: x (B, m), h (B, n) (and c for "lstm"), parameters by protocol name
    (W_* zeros, biases drawn per entry from `BIAS_CLASSES`), all exactly representable in ``dtype``."""
    if kind not in KINDS:
        raise ValueError(f"zero_weight_problem: kind={kind!r}, but should be one of {KINDS}")
    if not (isinstance(n, int) and isinstance(B, int) and isinstance(m, int)) or min(n, B, m) < 1:
        raise ValueError(f"zero_weight_problem: n={n!r}, B={B!r}, m={m!r}, but should be integers >= 1")
    dt = fmt(dtype).dtype
    arrays = {"x": rng.standard_normal((B, m)), "h": np.tanh(rng.standard_normal((B, n)))}
    arrays["h"][rng.random((B, n)) < 0.1] = 0.0
    if kind == "lstm":
        arrays["c"] = rng.standard_normal((B, n)) * rng.choice((0.1, 1.0, 10.0), size=(B, n))
        arrays["c"][rng.random((B, n)) < 0.1] = 0.0
    for wx, wh, b in BLOCKS[kind]:
        arrays[wx], arrays[wh], arrays[b] = np.zeros((n, m)), np.zeros((n, n)), _biases(rng, n)
    if kind == "gru":
        arrays[GRU_HIDDEN_BIAS] = _biases(rng, n)
    arrays = {k: v.astype(dt) for k, v in arrays.items()}
    return Problem(arrays, {"n": n, "m": m, "B": B})


@st.composite
def zero_weight_problems(draw, kind: str, dtype: str):
    """Hypothesis: sizes (n <= 16, B <= 4, m <= 2) and a seed, then `zero_weight_problem`."""
    n = draw(size(1, MAX_N), label="n")
    B = draw(size(1, MAX_B), label="B")
    m = draw(size(1, MAX_M), label="m")
    seed = draw(SEED, label="seed")
    problem = zero_weight_problem(kind, dtype, np.random.default_rng(seed), n, B, m)
    problem.scalars["seed"] = seed
    return problem


# ---- model and reference -----------------------------------------------------------------------------------------

def _params(problem, kind) -> dict:
    return {k: problem[k] for k in PARAMS[kind]}


def bounds(kind: str, problem, u: float, act: float, eta=(0.0, 0.0), variant: str = "reset_after") -> dict:
    """The model's error bound per output ({"h'": ..., "c'": ...} for "lstm", {"h'": ...} otherwise) of a
    zero-weight step (module doc), with unit roundoff ``u``, ``act`` u per activation and the underflow terms
    ``eta`` = (per product, per addition); first order plus the product terms, before MARGIN."""
    f64 = {k: np.asarray(v, np.float64) for k, v in problem.arrays.items()}
    shape = f64["h"].shape

    exact = tol.exact_in(tol.Units(u, u, act), eta)  # storage = accumulation = the dtype; act u per activation

    def E(v):
        return exact(np.broadcast_to(v, shape))

    h = E(f64["h"])
    if kind == "rnn":
        return {"h'": em.tanh(E(f64["b"])).e}
    if kind == "lstm":
        i, f, o = (em.sigmoid(E(f64[f"b_{q}"])) for q in "ifo")
        c_new = f * E(f64["c"]) + i * em.tanh(E(f64["b_g"]))
        return {"h'": (o * em.tanh(c_new)).e, "c'": c_new.e}
    r, z = em.sigmoid(E(f64["b_r"])), em.sigmoid(E(f64["b_z"]))
    pre = E(f64["b_xn"]) + (r * E(f64[GRU_HIDDEN_BIAS]) if variant == "reset_after" else E(f64[GRU_HIDDEN_BIAS]))
    n = em.tanh(pre)
    return {"h'": np.maximum((z * h + (1 - z) * n).e, (n + z * (h - n)).e)}


def reference(kind: str, problem, target) -> dict:
    """The exact outputs (50-digit mpmath, rounded once to float64) of the zero-weight step, same keys as `bounds`."""
    a = {k: np.asarray(v, np.float64) for k, v in problem.arrays.items()}
    p = _params(a, kind)
    if kind == "rnn":
        return {"h'": xo.rnn_cell(a["x"], a["h"], p, "tanh")}
    if kind == "lstm":
        h, c = xo.lstm_cell(a["x"], a["h"], a["c"], p)
        return {"h'": h, "c'": c}
    return {"h'": xo.gru_cell(a["x"], a["h"], p, target.convention("gru"))}


def outputs(kind: str, target, problem, chk=None) -> dict:
    """The target's cell on the problem, same keys as `bounds`. A lstm_cell must return (h', c'): otherwise
    ``chk`` fails (or ValueError without a Checker)."""
    args = [problem["x"], problem["h"]] + ([problem["c"]] if kind == "lstm" else []) + [_params(problem, kind)]
    out = call(target, f"{kind}_cell", *args)
    if kind != "lstm":
        return {"h'": out}
    if not (isinstance(out, tuple) and len(out) == 2):
        msg = f"returned {type(out).__name__}, but should be a tuple (h', c')"
        if chk is None:
            raise ValueError(f"outputs: lstm_cell {msg}")
        chk.fail("lstm_cell(x, h, c, p)", msg)
    return {"h'": out[0], "c'": out[1]}


def required_ulps(err: dict, ref: dict, bound_at) -> tuple:
    """(X, name, index): X the smallest act >= 0 with err <= bound_at(act) + u_64 |ref| (times MARGIN inside
    ``bound_at``) for every entry of every output, by doubling then bisection (the bound is nondecreasing in
    act; X is the upper end of the final bracket, within 2^-BISECTIONS relative of the least value); inf when no
    activation error below 2 / u explains the outputs. ``name`` and ``index``: an entry that needs X."""
    def worst_excess(act):
        b = bound_at(act)
        ex = {k: err[k] - b[k] - U64 * np.abs(ref[k]) * b["_margin"] for k in err}
        k = max(ex, key=lambda q: float(np.max(ex[q])))
        return float(np.max(ex[k])), k, tuple(int(v) for v in np.unravel_index(int(np.argmax(ex[k])), ex[k].shape))

    excess, name, idx = worst_excess(0.0)
    if excess <= 0:
        return 0.0, name, idx
    lo, hi, limit = 0.0, 1.0, 2.0 / bound_at.u
    while worst_excess(hi)[0] > 0:
        lo, hi = hi, 2 * hi
        if hi > limit:
            return math.inf, name, idx
    for _ in range(BISECTIONS):
        mid = 0.5 * (lo + hi)
        if worst_excess(mid)[0] > 0:
            lo = mid
        else:
            hi = mid
    _, name, idx = worst_excess(lo)
    return hi, name, idx


class _BoundAt:
    """act -> {output: MARGIN * bound(act)} for one problem (and "_margin"), with the target's u and underflow."""

    def __init__(self, kind, problem, target):
        self.kind, self.problem = kind, problem
        self.u = fmt(target.dtype).u
        self.eta = tol.underflow_terms(target.dtype, tol.underflow(target))
        self.variant = target.convention("gru")
        self.margin = margin(self.u)

    def __call__(self, act):
        b = bounds(self.kind, self.problem, self.u, act, self.eta, self.variant)
        return {**{k: self.margin * v for k, v in b.items()}, "_margin": self.margin}


def measure(kind: str, target, problem, chk=None) -> dict:
    """The measured activation error of ``target`` on one zero-weight problem: {"ulps": X (module doc), "output",
    "index", "got", "exact", "error"}; with a Checker ``chk`` the outputs are checked for dtype, shape and
    finiteness first (a failure there is the checker's)."""
    out = outputs(kind, target, problem, chk)
    ref = reference(kind, problem, target)
    got = {}
    for k, want in ref.items():
        if chk is not None:
            got[k] = chk.array(f"{kind}_cell {k}", out[k], want.shape).astype(np.float64)
        else:
            got[k] = np.asarray(out[k], np.float64)
    err = {k: np.abs(got[k] - ref[k]) for k in ref}
    X, name, idx = required_ulps(err, ref, _BoundAt(kind, problem, target))
    return {"ulps": X, "output": name, "index": idx, "got": float(got[name][idx]), "exact": float(ref[name][idx]),
            "error": float(err[name][idx])}


def measure_target(target, kinds=KINDS, examples: int = 20, seed: int = 0) -> dict:
    """kind -> the largest measured X over ``examples`` zero-weight problems (n = 16, B = 4) drawn from ``seed``,
    for the kinds ``target`` provides (rnn only with rnn_activation "tanh"): what benchmarks/gpu.py records."""
    if not isinstance(examples, int) or examples < 1:
        raise ValueError(f"measure_target: examples={examples!r}, but should be an integer >= 1")
    out = {}
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"measure_target: kind={kind!r}, but should be one of {KINDS}")
        if not target.provides(f"{kind}_cell") or (kind == "rnn" and target.convention("rnn_activation") != "tanh"):
            continue
        rng = np.random.default_rng(seed)
        out[kind] = max(measure(kind, target, zero_weight_problem(kind, target.dtype, rng, MAX_N, MAX_B))["ulps"]
                        for _ in range(examples))
    return out


# ---- the properties -----------------------------------------------------------------------------------------------

def _declare(x: float) -> str:
    """X rounded up to two significant digits, as a value to declare."""
    if not math.isfinite(x):
        return "inf"
    q = 10.0 ** (math.floor(math.log10(x)) - 1)
    return f"{math.ceil(x / q - 1e-9) * q:.4g}"


#: zero-weight problems measured after a failure, so that the value to declare is not the shrunk example's alone
BATTERY = 8


def _battery(kind: str, target) -> float:
    """The largest X over `BATTERY` fixed zero-weight problems of full size (0 if the target raises on one: the
    failing example's own value is then reported)."""
    try:
        return measure_target(target, (kind,), examples=BATTERY, seed=0).get(kind, 0.0)
    except Exception:  # noqa: BLE001 - only a refinement of the message; the failure stands on its own
        return 0.0


def _check(kind: str, target, problem, chk) -> None:
    a = tol.precision(target)
    u, u_model, declared = fmt(target.dtype).u, tol.unit_roundoff(a), tol.activation_ulps(a)
    r = measure(kind, target, problem, chk)
    allowed = declared * u_model / u  # the declaration in units of the dtype's u
    chk.worst = max(chk.worst, r["ulps"] / allowed)
    if r["ulps"] <= allowed:
        return
    unit = f"u = 2^{int(round(math.log2(u)))} of {target.dtype}, absolute"
    quantity = f"{kind}_cell {r['output']} with all weights 0 (n={problem['n']}, B={problem['B']})"
    where = (f"entry {r['index']} = {r['got']!r}, but should be {r['exact']!r} (the 50-digit value; error "
             f"{r['error']:.3g} = {r['error'] / u:.3g} u)")
    if r["ulps"] >= FORMULA_BUG_ULPS:
        chk.fail(quantity, f"{where}: no activation error below {FORMULA_BUG_ULPS:g} u explains it ({unit}); with "
                           f"zero weights the outputs are tanh/sigmoid of the biases times the states",
                 part="forward", likely_bug="a wrong cell formula at zero weights: gate order, a bias dropped or "
                                            "doubled, the wrong activation")
    worst = max(r["ulps"], _battery(kind, target)) * u / u_model  # in the unit the target declares in
    chk.fail(quantity, f"{where}: the activations err by at least {r['ulps']:.3g} u here (measured activation_ulps; "
                       f"{unit}), but the target declares activation_ulps = {declared:g}"
                       + (f" of u = {u_model:.3g} ({a.storage})" if u_model != u else "")
                       + f"; the largest over this example and {BATTERY} more zero-weight problems is {worst:.3g}: "
                       f"declare activation_ulps >= {_declare(worst)}",
             part="forward",
             likely_bug="tanh/sigmoid less accurate than declared: a fast-math or hardware approximation")


_DERIVATIONS = {"rnn": ("rnn.cell.forward", "act.tanh.range"),
                "lstm": ("lstm.cell.forward", "act.sigmoid.range", "act.tanh.range"),
                "gru": ("gru.cell.forward.reset_after", "gru.cell.forward.reset_before", "act.sigmoid.range",
                        "act.tanh.range")}


def _register(kind: str) -> None:
    cap = f"{kind}_cell"
    what = {"rnn": "tanh", "lstm": "sigmoid and tanh", "gru": "sigmoid and tanh"}[kind]

    @prop(f"act.{cap}.accuracy",
          title=f"{cap} with all weights 0 ({what} of the biases, times the states) is within the declared "
                f"activation_ulps of the 50-digit reference: the activation error, measured",
          capabilities=(cap,), derivations=_DERIVATIONS[kind], precisions=PRECISIONS,
          applies=(lambda t: t.convention("rnn_activation") == "tanh") if kind == "rnn" else None,
          strategy=lambda t: zero_weight_problems(kind, t.dtype))
    def accuracy(target, problem, chk):
        _check(kind, target, problem, chk)


for _kind in KINDS:
    _register(_kind)
