"""Properties of the vanilla RNN, BPTT and the Jacobian across time, checked against the oracle.

Oracle: dlproof.derivations.oracle_rnn (kernels printed from proved compact formulas), float64.
Tolerances: properties.tolerances (forward-error model per dtype).
"""
from __future__ import annotations

import numpy as np

from dlproof.derivations import oracle_rnn
from dlproof.derivations.activations import GAMMA
from dlproof.dtypes import DTYPES
from dlproof.parameters import RNN_PARAMS

from . import tolerances as tol
from .assertions import call
from .registry import prop
from .sequence import SeqModel, register, state_jacobian, state_jacobian_tol
from .strategies import rnn_problems



def _act(target) -> str:
    return target.convention("rnn_activation")


def _p(problem) -> dict:
    return {k: problem[k] for k in RNN_PARAMS}


def _rnn_strategy(target, **kw):
    return rnn_problems(**{"dtype": target.dtype, **kw})


def _preacts(problem):
    """Pre-activations a_t of the relu oracle run, (T, B, n): where finite differences must not cross 0."""
    p = {k: problem[k] for k in RNN_PARAMS}
    hs, _ = oracle_rnn.rnn_forward(problem["xs"], problem["h0"], p, "relu")
    prev = np.concatenate([problem["h0"][None], hs[:-1]])
    return np.einsum("tbm,nm->tbn", problem["xs"], p["W_x"]) + np.einsum("tbk,nk->tbn", prev, p["W_h"]) + p["b"]


def _finals(fn):
    def wrapped(*a):
        hs, last = fn(*a)
        return hs, (last,)

    return wrapped


RNN = SeqModel(
    kind="rnn", params=RNN_PARAMS, states=("h0",), final_cots=("d_hT",), strategy=_rnn_strategy, convention=_act,
    oracle_forward=_finals(oracle_rnn.rnn_forward), oracle_vjp=oracle_rnn.rnn_vjp,
    forward_tol=_finals(tol.rnn_forward_tol), vjp_tol=tol.rnn_vjp_tol,
    derivations_forward=("rnn.bptt.unroll", "rnn.cell.forward"),
    derivations_vjp=("rnn.bptt.gradient", "rnn.bptt.shared_weight_gradient", "rnn.cell.jacobian_h",
                     "rnn.cell.jacobian_x", "rnn.cell.jacobian_b", "rnn.cell.jacobian_W_h", "rnn.cell.jacobian_W_x"),
    relu_kinks=_preacts)
register(RNN, cell_call=lambda t, chk, x, states, p: (call(t, "rnn_cell", x, states[0], p),),
         cell_derivations=("rnn.cell.forward",))


@prop("rnn.bptt.jacobian_product", title="dh_t/dh_k of the target equals J_t ... J_{k+1} and its own one-step product",
      capabilities=("rnn", "rnn_vjp"), derivations=("rnn.bptt.jacobian_product", "rnn.cell.jacobian_h"),
      strategy=lambda t: _rnn_strategy(t, max_n=4, max_T=4, min_T=2), precisions=DTYPES)
def jacobian_product(target, problem, chk):
    act = _act(target)
    xs, h0, p = problem["xs"], problem["h0"], _p(problem)
    T = xs.shape[0]
    n = h0.shape[1]
    hs, _ = call(target, "rnn", xs, h0, p)
    states = [h0] + [chk.array(f"hs[{t}]", hs[t], h0.shape) for t in range(T)]
    J_full, t_full = state_jacobian(RNN, target, chk, xs, (h0,), p, act)
    expected = oracle_rnn.rnn_jacobian_chain(xs, h0, p, 0, T, act)
    chk.close("dh_T/dh_0", J_full.astype(target.dtype), expected, t_full)
    # the target's own one-step Jacobians at its own states, multiplied latest-left
    prod = np.broadcast_to(np.eye(n), J_full.shape).copy()
    for t in range(T):
        prod = state_jacobian(RNN, target, chk, xs[t:t + 1], (states[t],), p, act)[0] @ prod
    chk.close("J_T ... J_1 (the target's one-step Jacobians)", prod.astype(target.dtype), expected,
              _product_tol(target, xs, h0, p, act))


def _product_tol(target, xs, h0, p, act):
    """First-order bound on a product of T one-step Jacobians taken at the target's (perturbed) states:
    sum_t |J_T..J_t+1| (tol_t + e_a,t |W_h|) |J_t-1..J_1|, exact factors from the oracle; plus, at float16
    (tolerances.NEAR_UNDERFLOW), SAFETY eta for the cast of the product to the target's dtype, where a product of
    T small factors may be subnormal (|fl(p) - p| <= eta / 2)."""
    T, n = xs.shape[0], h0.shape[1]
    hs, _ = oracle_rnn.rnn_forward(xs, h0, p, act)
    states = np.concatenate([np.asarray(h0, np.float64)[None], hs])
    prec = tol.precision(target)
    units = tol.Units(tol.unit_roundoff(prec), prec.u_acc, prec.activation_ulps)  # the target's own rounding alone
    eta = sum(tol.underflow_terms(prec, None))
    e_a = tol._rnn_forward_bound(np.asarray(xs, np.float64), np.asarray(h0, np.float64), p, act, units, eta)[3]
    pre = [np.abs(oracle_rnn.rnn_cell_jacobians(xs[t], states[t], p, act)["h"]) for t in range(T)]
    aWh = np.abs(np.asarray(p["W_h"], np.float64))
    total = 0.0
    for t in range(T):
        if act == "tanh":
            dJ = tol.SAFETY * e_a[t][:, :, None] * aWh
        else:
            dJ = (np.abs(_preacts_at(xs[t], states[t], p)) <= tol.SAFETY * e_a[t])[:, :, None] * aWh
        step = state_jacobian_tol(RNN, xs[t:t + 1], (states[t],), p, act, tol.precision(target)) + dJ
        left = np.broadcast_to(np.eye(n), step.shape).copy()
        for i in range(t + 1, T):
            left = pre[i] @ left
        right = np.broadcast_to(np.eye(n), step.shape).copy()
        for i in range(t):
            right = pre[i] @ right
        total = total + left @ step @ right
    return total + tol.SAFETY * eta if eta else total


def _preacts_at(x, h, p):
    return np.asarray(x, np.float64) @ np.asarray(p["W_x"], np.float64).T + np.asarray(h, np.float64) @ np.asarray(p["W_h"], np.float64).T + np.asarray(p["b"], np.float64)


@prop("rnn.bptt.norm_bound", title="||dh_t/dh_k||_2 <= (gamma ||W_h||_2)^(t-k) on the target",
      capabilities=("rnn_vjp",), derivations=("rnn.bptt.norm_bound", "act.tanh.gamma", "act.relu.gamma"),
      strategy=lambda t: _rnn_strategy(t, max_n=4, max_T=4), precisions=DTYPES)
def norm_bound(target, problem, chk):
    act = _act(target)
    xs, h0, p = problem["xs"], problem["h0"], _p(problem)
    J, t_J = state_jacobian(RNN, target, chk, xs, (h0,), p, act)
    bound = (GAMMA[act] * np.linalg.norm(np.asarray(p["W_h"], np.float64), 2)) ** xs.shape[0]
    slack = float(np.linalg.norm(t_J, axis=(1, 2)).max())
    worst = float(np.linalg.norm(J, 2, axis=(1, 2)).max())
    chk.worst = max(chk.worst, worst / (bound + slack) if bound + slack > 0 else 0.0)
    chk.holds("||dh_T/dh_0||_2", worst <= bound + slack,
              f"= {worst:.6g}, but should be <= (gamma ||W_h||_2)^T = {bound:.6g} (+ {slack:.3g} rounding)")


from .restrictions import kind_supported  # noqa: E402 - the kinds a target declares for param_count


@prop("rnn.param_count", title="parameter count n m + n^2 + n (one bias) or n m + n^2 + 2n (two)",
      capabilities=("param_count",), derivations=("rnn.param_count",), strategy=lambda t: rnn_problems(max_T=1),
      applies=lambda t: kind_supported(t, "rnn"), precisions=DTYPES)
def param_count(target, problem, chk):
    n, m = problem["n"], problem["m"]
    got = call(target, "param_count", "rnn", n, m)
    nb = 1 if target.bias_layout("rnn") == "one" else 2
    expected = n * m + n * n + nb * n
    chk.holds("param_count('rnn', n, m)", isinstance(got, (int, np.integer)) and int(got) == expected,
              f"param_count('rnn', {n}, {m}) = {got!r}, but should be {expected} (bias={target.bias_layout('rnn')})")
