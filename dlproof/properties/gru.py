"""Properties of the GRU (h' = z h + (1 - z) n; variant reset_after | reset_before, a declared convention).

Oracle: dlproof.derivations.oracle_gru, float64. Declaring the wrong variant fails the forward
properties: the variants differ (gru.variants_differ), never by a tolerance.
"""
from __future__ import annotations

import numpy as np

from dlproof.derivations import oracle_gru as oracle
from dlproof.dtypes import DTYPES
from dlproof.parameters import GRU_PARAMS

from . import tolerances as tol
from .assertions import call, number
from .registry import prop
from .sequence import SeqModel, register
from .strategies import gated_problems


def _strategy(target, **kw):
    return gated_problems("gru", **{"dtype": target.dtype, **kw})


def _variant(target) -> str:
    return target.convention("gru")


GRU = SeqModel(
    kind="gru", params=GRU_PARAMS, states=("h0",), final_cots=("d_hT",), strategy=_strategy, convention=_variant,
    oracle_forward=lambda xs, h0, p, v: (lambda hs, hT: (hs, (hT,)))(*oracle.gru_forward(xs, h0, p, v)),
    oracle_vjp=lambda xs, h0, p, d_hs, d_hT, v: oracle.gru_vjp(xs, h0, p, d_hs, d_hT, v),
    forward_tol=lambda xs, h0, p, v, dtype: (lambda t_hs, t_hT: (t_hs, (t_hT,)))(*tol.gru_forward_tol(xs, h0, p, v, dtype)),
    vjp_tol=lambda xs, h0, p, d_hs, d_hT, v, dtype: tol.gru_vjp_tol(xs, h0, p, d_hs, d_hT, v, dtype),
    derivations_forward=("gru.cell.forward.reset_after", "gru.cell.forward.reset_before"),
    derivations_vjp=("gru.cell.jacobian_weights.reset_after", "gru.cell.jacobian_weights.reset_before",
                     "gru.cell.jacobian_h.reset_after", "gru.cell.jacobian_h.reset_before"))
register(GRU, cell_call=lambda t, chk, x, states, p: (call(t, "gru_cell", x, states[0], p),),
         cell_derivations=("gru.cell.forward.reset_after", "gru.cell.forward.reset_before", "gru.variants_differ"))


def _candidate(x, h, p, variant):
    """n of the declared variant, float64, from the definitions gru.cell.forward.*."""
    f = {k: np.asarray(v, np.float64) for k, v in p.items()}
    x, h = np.asarray(x, np.float64), np.asarray(h, np.float64)
    sig = lambda a: 0.5 * (1 + np.tanh(0.5 * a))  # noqa: E731
    r = sig(x @ f["W_xr"].T + h @ f["W_hr"].T + f["b_r"])
    if variant == "reset_after":
        return np.tanh(x @ f["W_xn"].T + f["b_xn"] + r * (h @ f["W_hn"].T + f["b_hn"]))
    return np.tanh(x @ f["W_xn"].T + f["b_xn"] + f["b_hn"] + (r * h) @ f["W_hn"].T)


@prop("gru.convexity", title="each entry of the target's h' lies between h and the candidate n",
      capabilities=("gru_cell",), derivations=("gru.convexity",), strategy=lambda t: _strategy(t, max_T=1),
      precisions=DTYPES)
def convexity(target, problem, chk):
    x, h, p = problem["xs"][0], problem["h0"], GRU.p(problem)
    out = chk.array("gru_cell(x, h, p)", call(target, "gru_cell", x, h, p), h.shape).astype(np.float64)
    n = _candidate(x, h, p, _variant(target))
    _, t_h = tol.gru_forward_tol(problem["xs"][:1], h, p, _variant(target), tol.precision(target))
    lo, hi = np.minimum(h, n) - t_h, np.maximum(h, n) + t_h
    bad = (out < lo) | (out > hi)
    if bad.any():
        i = tuple(int(j) for j in np.argwhere(bad)[0])
        chk.fail("h'", f"entry {i} = {number(out[i])}, but should lie between h = {number(h[i])} and n = {number(n[i])} "
                       f"(within {t_h[i]:.3g})")


@prop("gru.bounded_state", title="|h_0| <= 1 keeps every |h_t| <= 1 (within the rounding bound), also over long sequences",
      capabilities=("gru",), derivations=("gru.bounded_state", "gru.convexity"),
      strategy=lambda t: _strategy(t, max_T=40, min_T=10, max_B=2, max_n=3), precisions=DTYPES)
def bounded_state(target, problem, chk):
    hs, _ = GRU.run(target, chk, GRU.args(problem), (problem["d_hs"].shape, problem["d_hT"].shape))
    # a faithful tanh stays in [-1, 1] and the convex combination's roundings give 4u; a tanh declared less
    # accurate than the default may leave [-1, 1] by its activation_ulps u, which the bound adds
    a = tol.precision(target)
    act = tol.activation_ulps(a)
    ulps = 4 + (act if act > tol.ACT_ULPS else 0.0)
    bound = 1 + ulps * tol.unit_roundoff(a)
    worst = float(np.max(np.abs(hs)))
    chk.worst = max(chk.worst, worst / bound)
    chk.holds("max |h_t|", worst <= bound, f"= {worst!r}, but should be <= 1 + {ulps:g}u = {bound!r} since |h_0| <= 1")


from .restrictions import kind_supported  # noqa: E402 - the kinds a target declares for param_count


@prop("gru.param_count", title="GRU parameters: 3(nm + n^2 + n) (+ n for reset_after's b_hn; 3(nm + n^2 + 2n) with two biases)",
      capabilities=("param_count",), derivations=("gru.param_count", "gru.lstm_param_ratio"),
      strategy=lambda t: _strategy(t, max_T=1),
      applies=lambda t: kind_supported(t, "gru"), precisions=DTYPES)
def param_count(target, problem, chk):
    n, m = problem["n"], problem["m"]
    got = call(target, "param_count", "gru", n, m)
    if target.bias_layout("gru") == "two":
        expected = 3 * (n * m + n * n + 2 * n)
    else:
        expected = 3 * (n * m + n * n + n) + (n if _variant(target) == "reset_after" else 0)
    chk.holds("param_count('gru', n, m)", isinstance(got, (int, np.integer)) and int(got) == expected,
              f"param_count('gru', {n}, {m}) = {got!r}, but should be {expected} "
              f"(gru={_variant(target)}, bias={target.bias_layout('gru')})")
