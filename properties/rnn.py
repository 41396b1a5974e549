"""Properties of the vanilla RNN, BPTT and the Jacobian across time, checked against the oracle.

Oracle: dlproof.derivations.oracle (kernels printed from proved compact formulas), float64.
Tolerances: properties.tolerances (forward-error model per dtype).
"""
from __future__ import annotations

import numpy as np
from hypothesis import assume

from dlproof.derivations import oracle
from dlproof.derivations.activations import GAMMA

from . import tolerances as tol
from .assertions import call
from .registry import prop
from .strategies import rnn_problems

PARAMS = ("W_x", "W_h", "b")


def _act(target) -> str:
    return target.convention("rnn_activation")


def _p(problem) -> dict:
    return {k: problem[k] for k in PARAMS}


def _rnn_strategy(target, **kw):
    return rnn_problems(dtype=target.dtype, **kw)


def _cell_outputs(target, problem, chk):
    return call(target, "rnn_cell", problem["xs"][0], problem["h0"], _p(problem))


@prop("rnn.cell.forward", title="cell output equals phi(W_x x + W_h h + b)", capabilities=("rnn_cell",),
      derivations=("rnn.cell.forward",), strategy=lambda t: _rnn_strategy(t, max_T=1))
def cell_forward(target, problem, chk):
    act = _act(target)
    x, h, p = problem["xs"][0], problem["h0"], _p(problem)
    out = call(target, "rnn_cell", x, h, p)
    expected = oracle.rnn_cell(x, h, p, act)
    tol_hs, _ = tol.rnn_forward_tol(problem["xs"][:1], h, p, act, target.dtype)
    chk.close("rnn_cell(x, h, p)", out, expected, tol_hs[0])


@prop("rnn.forward", title="sequence forward equals the unrolled composition of cells", capabilities=("rnn",),
      derivations=("rnn.bptt.unroll", "rnn.cell.forward"), strategy=_rnn_strategy)
def forward(target, problem, chk):
    act = _act(target)
    xs, h0, p = problem["xs"], problem["h0"], _p(problem)
    out = call(target, "rnn", xs, h0, p)
    chk.holds("rnn(xs, h0, p)", isinstance(out, tuple) and len(out) == 2,
              f"returned {type(out).__name__}, but should be a tuple (hs, h_T)")
    hs, hT = out
    ehs, ehT = oracle.rnn_forward(xs, h0, p, act)
    t_hs, t_hT = tol.rnn_forward_tol(xs, h0, p, act, target.dtype)
    chk.close("hs", hs, ehs, t_hs)
    chk.close("h_T", hT, ehT, t_hT)
    chk.holds("h_T", np.array_equal(hT, hs[-1]), "h_T differs from hs[-1], but should be the last state")


def _vjp_row(target, problem, chk, quantity="rnn_vjp"):
    xs, h0, p = problem["xs"], problem["h0"], _p(problem)
    out = call(target, "rnn_vjp", xs, h0, p, problem["d_hs"], problem["d_hT"])
    chk.holds(quantity, isinstance(out, dict) and {"xs", "h0", "params"} <= set(out),
              f"returned {type(out).__name__} with keys {sorted(out) if isinstance(out, dict) else None}, "
              "but should be a dict with keys 'xs', 'h0', 'params'")
    chk.holds(f"{quantity}['params']", isinstance(out["params"], dict) and set(PARAMS) <= set(out["params"]),
              f"has keys {sorted(out['params']) if isinstance(out['params'], dict) else None}, but should have {list(PARAMS)}")
    return out


@prop("rnn.vjp", title="BPTT gradients equal the proved backward recursion", capabilities=("rnn_vjp",),
      derivations=("rnn.bptt.gradient", "rnn.bptt.shared_weight_gradient", "rnn.cell.jacobian_h",
                   "rnn.cell.jacobian_x", "rnn.cell.jacobian_b", "rnn.cell.jacobian_W_h", "rnn.cell.jacobian_W_x"),
      strategy=_rnn_strategy)
def vjp(target, problem, chk):
    act = _act(target)
    args = (problem["xs"], problem["h0"], _p(problem), problem["d_hs"], problem["d_hT"])
    out = _vjp_row(target, problem, chk)
    exp = oracle.rnn_vjp(*args, act)
    t = tol.rnn_vjp_tol(*args, act, target.dtype)
    chk.close("d xs", out["xs"], exp["xs"], t["xs"])
    chk.close("d h0", out["h0"], exp["h0"], t["h0"])
    for k in PARAMS:
        chk.close(f"d {k}", out["params"][k], exp["params"][k], t["params"][k])


def _flat(problem):
    return np.concatenate([np.asarray(problem[k], np.float64).ravel() for k in PARAMS + ("xs", "h0")])


def _unflat(problem, v):
    out, i = {}, 0
    for k in PARAMS + ("xs", "h0"):
        a = problem[k]
        out[k] = v[i:i + a.size].reshape(a.shape)
        i += a.size
    return out


def _loss(hs, hT, problem):
    return float(np.sum(np.asarray(problem["d_hs"], np.float64) * hs) + np.sum(np.asarray(problem["d_hT"], np.float64) * hT))


@prop("rnn.vjp.oracle_fd", title="the symbolic oracle's gradient agrees with float64 central differences",
      capabilities=(), derivations=("rnn.bptt.gradient",), strategy=lambda t: rnn_problems(dtype="float64"),
      applies=lambda t: t.provides("rnn") or t.provides("rnn_vjp"))
def oracle_fd(target, problem, chk):
    """Validates the oracle itself (target-independent): Richardson-checked central differences."""
    act = _act(target)
    theta = _flat(problem)
    v = problem["direction"] / np.linalg.norm(problem["direction"])
    g = oracle.rnn_vjp(problem["xs"], problem["h0"], _p(problem), problem["d_hs"], problem["d_hT"], act)
    gflat = np.concatenate([np.ravel(g["params"][k]) for k in PARAMS] + [np.ravel(g["xs"]), np.ravel(g["h0"])])

    def L(th):
        q = _unflat(problem, th)
        if act == "relu":
            pre = _preacts(q)
            assume(np.min(np.abs(pre)) > 1e-3)  # finite differences stay away from the kink
        return _loss(*oracle.rnn_forward(q["xs"], q["h0"], {k: q[k] for k in PARAMS}, act), problem)

    eps = 1e-4 * max(1.0, float(np.max(np.abs(theta))))
    d1 = (L(theta + eps * v) - L(theta - eps * v)) / (2 * eps)
    d2 = (L(theta + eps / 2 * v) - L(theta - eps / 2 * v)) / eps
    richardson = (4 * d2 - d1) / 3
    exact = float(gflat @ v)
    # rounding: each evaluation of L is within E_L (the float64 forward-error model summed against |d|)
    t_hs, t_hT = tol.rnn_forward_tol(problem["xs"], problem["h0"], _p(problem), act, "float64")
    E_L = float(np.sum(np.abs(problem["d_hs"]) * t_hs) + np.sum(np.abs(problem["d_hT"]) * t_hT))
    hs, hT = oracle.rnn_forward(problem["xs"], problem["h0"], _p(problem), act)
    E_L += 4 * tol.UNIT_ROUNDOFF["float64"] * float(np.sum(np.abs(problem["d_hs"] * hs)) + np.sum(np.abs(problem["d_hT"] * hT)))
    tolerance = abs(d1 - d2) + 2 * E_L / eps + 1e-12 * abs(exact)
    chk.scalar_close("<grad, v> vs central differences", exact, richardson, tolerance)


def _preacts(q):
    p = {k: q[k] for k in PARAMS}
    hs, _ = oracle.rnn_forward(q["xs"], q["h0"], p, "relu")
    prev = np.concatenate([q["h0"][None], hs[:-1]])
    return np.einsum("tbm,nm->tbn", q["xs"], p["W_x"]) + np.einsum("tbk,nk->tbn", prev, p["W_h"]) + p["b"]


@prop("rnn.vjp.fd_own_dtype", title="the target's gradient agrees with its own forward, in its own dtype",
      capabilities=("rnn", "rnn_vjp"), derivations=("rnn.bptt.gradient",), strategy=_rnn_strategy)
def fd_own_dtype(target, problem, chk):
    """(L(θ+) - L(θ-)) vs <g, θ+ - θ-> with θ± rounded to the target's dtype; error budget from the model."""
    act = _act(target)
    dt = np.dtype(target.dtype)
    theta = _flat(problem)
    v = problem["direction"].astype(np.float64)
    v /= np.linalg.norm(v)
    step = (1e-2 if dt == np.float32 else 1e-5) * max(1.0, float(np.max(np.abs(theta))))
    plus, minus = (_unflat(problem, (theta + s * step * v).astype(dt).astype(np.float64)) for s in (1, -1))
    if act == "relu":
        assume(min(np.min(np.abs(_preacts(q))) for q in (plus, minus)) > 10 * step)
    delta = _flat_from(plus) - _flat_from(minus)

    def run(q):
        qq = {k: np.asarray(v_, dt) for k, v_ in q.items()}
        out = call(target, "rnn", qq["xs"], qq["h0"], {k: qq[k] for k in PARAMS})
        chk.holds("rnn(xs, h0, p)", isinstance(out, tuple) and len(out) == 2, "should return (hs, h_T)")
        hs = chk.array("hs", out[0], problem["d_hs"].shape)
        hT = chk.array("h_T", out[1], problem["d_hT"].shape)
        return _loss(hs.astype(np.float64), hT.astype(np.float64), problem)

    out = _vjp_row(target, problem, chk)
    g_t = np.concatenate([np.ravel(np.asarray(out["params"][k], np.float64)) for k in PARAMS]
                         + [np.ravel(np.asarray(out["xs"], np.float64)), np.ravel(np.asarray(out["h0"], np.float64))])
    fd_target = run(plus) - run(minus)
    # exact-arithmetic truncation of this difference, measured on the float64 oracle at the same points
    args = lambda q: (q["xs"], q["h0"], {k: q[k] for k in PARAMS})  # noqa: E731
    base = {k: np.asarray(problem[k], np.float64) for k in PARAMS + ("xs", "h0")}
    g_o = oracle.rnn_vjp(*args(base), problem["d_hs"], problem["d_hT"], act)
    g_oflat = np.concatenate([np.ravel(g_o["params"][k]) for k in PARAMS] + [np.ravel(g_o["xs"]), np.ravel(g_o["h0"])])
    trunc = abs(_loss(*oracle.rnn_forward(*args(plus), act), problem) - _loss(*oracle.rnn_forward(*args(minus), act), problem)
                - float(g_oflat @ delta))
    ad_hs, ad_hT = np.abs(problem["d_hs"].astype(np.float64)), np.abs(problem["d_hT"].astype(np.float64))
    e_forward = 0.0
    for q in (plus, minus):
        t_hs, t_hT = tol.rnn_forward_tol(*args(q), act, target.dtype)
        e_forward += float(np.sum(ad_hs * t_hs) + np.sum(ad_hT * t_hT))
    t_vjp = tol.rnn_vjp_tol(*args(base), problem["d_hs"], problem["d_hT"], act, target.dtype)
    t_flat = np.concatenate([np.ravel(t_vjp["params"][k]) for k in PARAMS] + [np.ravel(t_vjp["xs"]), np.ravel(t_vjp["h0"])])
    e_grad = float(t_flat @ np.abs(delta)) + float(np.abs(g_oflat) @ np.abs(delta)) * 4 * tol.unit_roundoff(target.dtype)
    chk.scalar_close("L(θ+) - L(θ-) vs <grad, θ+ - θ->", float(g_t @ delta), fd_target,
                     tol.SAFETY * (trunc + e_forward + e_grad) + 1e-300)


def _flat_from(q):
    return np.concatenate([np.ravel(q[k]) for k in PARAMS + ("xs", "h0")])


def _target_jacobian(target, chk, xs, h_k, p):
    """dh_t/dh_k from the target's rnn_vjp: row i is d<e_i, h_t>/dh_k (numerator layout), (B, n, n)."""
    T, B = xs.shape[:2]
    n = h_k.shape[1]
    rows = []
    for i in range(n):
        d_hT = np.zeros((B, n), dtype=xs.dtype)
        d_hT[:, i] = 1
        out = call(target, "rnn_vjp", xs, h_k, p, np.zeros((T, B, n), dtype=xs.dtype), d_hT)
        rows.append(chk.array(f"rnn_vjp(...)['h0'] for unit {i}", out["h0"], (B, n)).astype(np.float64))
    return np.stack(rows, axis=1)


def _chain_tol(target, xs, h_k, p, act, n):
    """Tolerance of a Jacobian block: the VJP model with one-hot cotangents, per row."""
    T, B = xs.shape[:2]
    rows = []
    for i in range(n):
        d_hT = np.zeros((B, n))
        d_hT[:, i] = 1
        rows.append(tol.rnn_vjp_tol(xs, h_k, p, np.zeros((T, B, n)), d_hT, act, target.dtype)["h0"])
    return np.stack(rows, axis=1)


@prop("rnn.bptt.jacobian_product", title="dh_t/dh_k of the target equals J_t ... J_{k+1} and its own one-step product",
      capabilities=("rnn", "rnn_vjp"), derivations=("rnn.bptt.jacobian_product", "rnn.cell.jacobian_h"),
      strategy=lambda t: _rnn_strategy(t, max_n=4, max_T=4, min_T=2))
def jacobian_product(target, problem, chk):
    act = _act(target)
    xs, h0, p = problem["xs"], problem["h0"], _p(problem)
    T = xs.shape[0]
    n = h0.shape[1]
    hs, _ = call(target, "rnn", xs, h0, p)
    states = [h0] + [chk.array(f"hs[{t}]", hs[t], h0.shape) for t in range(T)]
    J_full = _target_jacobian(target, chk, xs, h0, p)
    expected = oracle.rnn_jacobian_chain(xs, h0, p, 0, T, act)
    t_full = _chain_tol(target, xs, h0, p, act, n)
    chk.close("dh_T/dh_0", J_full.astype(target.dtype), expected, t_full)
    # the target's own one-step Jacobians at its own states, multiplied latest-left
    prod = np.broadcast_to(np.eye(n), J_full.shape).copy()
    for t in range(T):
        prod = _target_jacobian(target, chk, xs[t:t + 1], states[t], p) @ prod
    chk.close("J_T ... J_1 (the target's one-step Jacobians)", prod.astype(target.dtype), expected,
              _product_tol(target, xs, h0, p, act))


def _product_tol(target, xs, h0, p, act):
    """First-order bound on a product of T one-step Jacobians taken at the target's (perturbed) states:
    sum_t |J_T..J_t+1| (tol_t + e_a,t |W_h|) |J_t-1..J_1|, exact factors from the oracle."""
    T, n = xs.shape[0], h0.shape[1]
    hs, _ = oracle.rnn_forward(xs, h0, p, act)
    states = np.concatenate([np.asarray(h0, np.float64)[None], hs])
    e_a = tol._rnn_forward_bound(np.asarray(xs, np.float64), np.asarray(h0, np.float64), p, act,
                                 tol.unit_roundoff(target.dtype))[3]
    pre = [np.abs(oracle.rnn_cell_jacobians(xs[t], states[t], p, act)["h"]) for t in range(T)]
    aWh = np.abs(np.asarray(p["W_h"], np.float64))
    total = 0.0
    for t in range(T):
        if act == "tanh":
            dJ = tol.SAFETY * e_a[t][:, :, None] * aWh
        else:
            dJ = (np.abs(_preacts_at(xs[t], states[t], p)) <= tol.SAFETY * e_a[t])[:, :, None] * aWh
        step = _chain_tol(target, xs[t:t + 1], states[t], p, act, n) + dJ
        left = np.broadcast_to(np.eye(n), step.shape).copy()
        for i in range(t + 1, T):
            left = pre[i] @ left
        right = np.broadcast_to(np.eye(n), step.shape).copy()
        for i in range(t):
            right = pre[i] @ right
        total = total + left @ step @ right
    return total


def _preacts_at(x, h, p):
    return np.asarray(x, np.float64) @ np.asarray(p["W_x"], np.float64).T + np.asarray(h, np.float64) @ np.asarray(p["W_h"], np.float64).T + np.asarray(p["b"], np.float64)


@prop("rnn.bptt.norm_bound", title="||dh_t/dh_k||_2 <= (gamma ||W_h||_2)^(t-k) on the target",
      capabilities=("rnn_vjp",), derivations=("rnn.bptt.norm_bound", "act.tanh.gamma", "act.relu.gamma"),
      strategy=lambda t: _rnn_strategy(t, max_n=4, max_T=4))
def norm_bound(target, problem, chk):
    act = _act(target)
    xs, h0, p = problem["xs"], problem["h0"], _p(problem)
    n = h0.shape[1]
    J = _target_jacobian(target, chk, xs, h0, p)
    bound = (GAMMA[act] * np.linalg.norm(np.asarray(p["W_h"], np.float64), 2)) ** xs.shape[0]
    slack = float(np.linalg.norm(_chain_tol(target, xs, h0, p, act, n), axis=(1, 2)).max())
    worst = float(np.linalg.norm(J, 2, axis=(1, 2)).max())
    chk.worst = max(chk.worst, worst / (bound + slack) if bound + slack > 0 else 0.0)
    chk.holds("||dh_T/dh_0||_2", worst <= bound + slack,
              f"= {worst:.6g}, but should be <= (gamma ||W_h||_2)^T = {bound:.6g} (+ {slack:.3g} rounding)")


@prop("rnn.param_count", title="parameter count n m + n^2 + n (one bias) or n m + n^2 + 2n (two)",
      capabilities=("param_count",), derivations=("rnn.param_count",), strategy=lambda t: rnn_problems(max_T=1))
def param_count(target, problem, chk):
    n, m = problem["n"], problem["m"]
    got = call(target, "param_count", "rnn", n, m)
    nb = 1 if target.convention("bias") == "one" else 2
    expected = n * m + n * n + nb * n
    chk.holds("param_count('rnn', n, m)", isinstance(got, (int, np.integer)) and int(got) == expected,
              f"param_count('rnn', {n}, {m}) = {got!r}, but should be {expected} (bias={target.convention('bias')})")
