"""Properties of the peephole LSTM cell (ONNX's LSTM with its input P) against its float64 oracle
(dlproof.derivations.oracle_peephole, kernels printed from derivations/peephole.py), with their strategy and
their tolerances.

    i = sigma(x W_xi^T + h W_hi^T + b_i + p_i c),   f = sigma(... + b_f + p_f c),   g = tanh(... + b_g),
    c' = f c + i g,   o = sigma(x W_xo^T + h W_ho^T + b_o + p_o c'),   h' = o tanh(c')

Strategy: the LSTM cell's draws (`strategies.gated_problems`, one step: shapes, weight and bias scales up to
saturated gates, a seed) plus peepholes p_i, p_f, p_o (n,) with random signs times a drawn scale, from the same
seed. `output_gate_draws` makes c and c' far apart (|c| >= 2, f ~ 0 and i ~ 1, so c' ~ g in (-1, 1)) and the
output peephole large, so an output gate that reads c instead of c' is far outside the tolerance.

Tolerances, the LSTM cell's forward-error model (properties.errmodel; tol = SAFETY (= 2) times the bound, entry
by entry, at u = u_target + u_float64): a pre-activation with a peephole, x W^T + h W^T + b + p s (s = c or c'),
is one dot product of k = m + n + 2 terms in any order, e = gamma_k (|x||W_x|^T + |h||W_h|^T + |b| + |p||s|)
+ |p| e_s; g's is the LSTM cell's (k = m + n + 1); then sigmoid, tanh, products and sums as in errmodel.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from dlproof.derivations import oracle_peephole as oracle
from dlproof.dtypes import DTYPES
from dlproof.parameters import PEEPHOLE_PARAMS, PEEPHOLES

from . import diagnose
from . import errmodel as em
from . import tolerances as tol
from .assertions import PropertyFailure, call
from .registry import prop
from .strategies import SCALES, Problem, gated_problems, signed

_SEED_MIX = 0x9E3779B9  # the peepholes' stream: the problem's seed xor this


@st.composite
def peephole_problems(draw, dtype: str = "float64", max_n: int = 4):
    """One peephole cell step: x = xs[0] (B, m), h0, c0 (B, n), the 15 parameters by name."""
    problem = draw(gated_problems("lstm", dtype=dtype, max_n=max_n, max_T=1))
    scale = draw(st.sampled_from(SCALES), label="p scale")
    rng = np.random.default_rng(problem["seed"] ^ _SEED_MIX)
    arrays = dict(problem.arrays)
    arrays.update({k: signed(rng, (problem["n"],), scale).astype(dtype) for k in PEEPHOLES})
    return Problem(arrays, {**problem.scalars, "p_scale": scale})


def _far_apart(problem: Problem) -> Problem:
    """c0 with |c0| in [2, 4], b_f = -30 and b_i = +30 (f ~ 0, i ~ 1: c' ~ g in (-1, 1)), p_o of 2 to 4 in
    magnitude: o(c) and o(c') differ by about sigma'(.) |p_o| |c - c'| >= sigma'(.) 2."""
    rng = np.random.default_rng(problem["seed"] ^ _SEED_MIX ^ 1)
    n, B = problem["n"], problem["B"]
    dt = problem["c0"].dtype
    arrays = dict(problem.arrays)
    arrays["c0"] = (rng.choice([-1.0, 1.0], (B, n)) * rng.uniform(2.0, 4.0, (B, n))).astype(dt)
    arrays["b_f"] = np.full(n, -30.0, dt)
    arrays["b_i"] = np.full(n, 30.0, dt)
    arrays["b_o"] = np.zeros(n, dt)
    arrays["p_o"] = (rng.choice([-1.0, 1.0], n) * rng.uniform(2.0, 4.0, n)).astype(dt)
    return Problem(arrays, dict(problem.scalars))


def output_gate_draws(dtype: str = "float64"):
    """`peephole_problems` where c and c' are far apart and p_o is large (see `_far_apart`)."""
    return peephole_problems(dtype=dtype).map(_far_apart)


def _pre(x, h, W_x, W_h, b, p=None, s=None):
    """x W_x^T + h W_h^T + b (+ p s): one dot product of m + n + 1 (+ 1) terms per entry, any order or FMA; with a
    wider accumulation its four pieces may each be rounded to storage (errmodel.pieces_to_storage)."""
    if p is None:
        return em.affine(x, W_x, h, W_h, b)
    k = W_x.v.shape[-1] + W_h.v.shape[-1] + 2
    v = x.v @ W_x.v.T + h.v @ W_h.v.T + b.v + p.v * s.v
    mag = np.abs(x.v) @ np.abs(W_x.v).T + np.abs(h.v) @ np.abs(W_h.v).T + np.abs(b.v) + np.abs(p.v * s.v)
    return x._E(v, em.sum_terms(em.gamma(k, x.u_acc) * mag, None if s.errfree else np.abs(p.v) * s.e,
                                em.pieces_to_storage(x, mag, v, 4)))


def cell_tol(x, h, c, p, dtype: str):
    """Entry-wise tolerances (tol_h', tol_c') of a peephole cell in ``dtype`` (the module's error model)."""
    ex = tol.exact_in(dtype)
    P = {k: ex(v) for k, v in p.items() if k in PEEPHOLE_PARAMS}
    x, h, c = (ex(a) for a in (x, h, c))

    def pre(g, s=None):
        return _pre(x, h, P[f"W_x{g}"], P[f"W_h{g}"], P[f"b_{g}"], None if s is None else P[f"p_{g}"], s)

    i, f = em.sigmoid(pre("i", c)), em.sigmoid(pre("f", c))
    c_new = f * c + i * em.tanh(pre("g"))
    h_new = em.sigmoid(pre("o", c_new)) * em.tanh(c_new)
    return tol.SAFETY * h_new.e, tol.SAFETY * c_new.e


def _p(problem) -> dict:
    return {k: problem[k] for k in PEEPHOLE_PARAMS}


def _cell(target, chk, capability, x, h, c, p):
    out = call(target, capability, x, h, c, p)
    chk.holds(f"{capability}(x, h, c, p)", isinstance(out, tuple) and len(out) == 2,
              f"returned {type(out).__name__}, but should be a tuple (h', c')")
    return out


#: likely bug -> the cell (h', c') with that bug, from the oracle's float64 cell and its own pieces
LIKELY_BUGS = {
    "the output gate reads the old cell c instead of the new c' (o = sigma(. + p_o c))":
        lambda x, h, c, p, out: (_sigmoid(x @ p["W_xo"].T + h @ p["W_ho"].T + p["b_o"] + p["p_o"] * c)
                                 * np.tanh(out[1]), out[1]),
    "p_f and p_o swapped (ONNX stores P as [P_i, P_o, P_f]; read in gate order i, f, o)":
        lambda x, h, c, p, out: oracle.lstm_peephole_cell(x, h, c, {**p, "p_f": p["p_o"], "p_o": p["p_f"]}),
    "the peepholes are ignored (the plain LSTM cell)":
        lambda x, h, c, p, out: oracle.lstm_peephole_cell(x, h, c, {**p, **{k: 0 * p[k] for k in PEEPHOLES}}),
}


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _against_oracle(target, problem, chk):
    """(h', c') against the oracle; a failure names the catalogued bug (`LIKELY_BUGS`) the output matches."""
    x, h, c, p = problem["xs"][0], problem["h0"], problem["c0"], _p(problem)
    outs = _cell(target, chk, "lstm_peephole_cell", x, h, c, p)
    expected = oracle.lstm_peephole_cell(x, h, c, p)
    tols = cell_tol(x, h, c, p, tol.precision(target))
    try:
        for name, a, e, t in zip(("h'", "c'"), outs, expected, tols):
            chk.close(f"lstm_peephole_cell(...) {name}", a, e, t)
    except PropertyFailure as exc:
        x64, h64, c64 = (np.asarray(v, np.float64) for v in (x, h, c))
        p64 = {k: np.asarray(v, np.float64) for k, v in p.items()}
        for bug, cell in LIKELY_BUGS.items():
            try:
                fits = all(diagnose.within(a, e, t) for a, e, t in zip(outs, cell(x64, h64, c64, p64, expected), tols))
            except Exception:  # noqa: BLE001 - a diagnosis never replaces the verdict it annotates
                fits = False
            if fits:
                diagnose.annotate(exc, part="forward", likely_bug=bug)
                break
        else:
            diagnose.annotate(exc, part="forward")
        raise


@prop("peephole.cell.forward", title="the peephole LSTM cell (h', c') equals the oracle's one step",
      capabilities=("lstm_peephole_cell",), derivations=("peephole.cell.forward",),
      strategy=lambda t: peephole_problems(dtype=t.dtype), precisions=DTYPES)
def cell_forward(target, problem, chk):
    _against_oracle(target, problem, chk)


@prop("peephole.cell.output_gate_reads_new_cell",
      title="the output gate reads the new cell state c' (draws where c and c' are far apart)",
      capabilities=("lstm_peephole_cell",), derivations=("peephole.cell.forward",),
      strategy=lambda t: output_gate_draws(dtype=t.dtype), precisions=DTYPES)
def output_gate_reads_new_cell(target, problem, chk):
    _against_oracle(target, problem, chk)


@prop("peephole.cell.zero_peepholes", title="with p_i = p_f = p_o = 0 the peephole cell equals the target's lstm_cell",
      capabilities=("lstm_peephole_cell", "lstm_cell"), derivations=("peephole.cell.zero_peepholes", "lstm.cell.forward"),
      strategy=lambda t: peephole_problems(dtype=t.dtype), precisions=DTYPES)
def zero_peepholes(target, problem, chk):
    """Both outputs are within their error-model tolerance of the same exact value (peephole.cell.zero_peepholes),
    so they differ by at most the sum of the two tolerances. A failure says the two capabilities disagree, not which
    one is wrong (peephole.cell.forward and lstm.cell.forward say that)."""
    x, h, c = problem["xs"][0], problem["h0"], problem["c0"]
    p = {k: (np.zeros_like(v) if k in PEEPHOLES else v) for k, v in _p(problem).items()}
    lstm_p = {k: v for k, v in p.items() if k not in PEEPHOLES}
    peep = _cell(target, chk, "lstm_peephole_cell", x, h, c, p)
    base = _cell(target, chk, "lstm_cell", x, h, c, lstm_p)
    prec = tol.precision(target)
    t_peep = cell_tol(x, h, c, p, prec)
    _, (t_h, t_c) = tol.lstm_forward_tol(problem["xs"][:1], h, c, lstm_p, prec)
    for name, a, b, t in zip(("h'", "c'"), peep, base, (t_peep[0] + t_h, t_peep[1] + t_c)):
        b = chk.array(f"lstm_cell(...) {name}", b, np.shape(a))
        chk.close(f"lstm_peephole_cell(..., p_i = p_f = p_o = 0) {name} against lstm_cell(...) {name} (one of the two "
                  "is wrong)", a, b, t)
