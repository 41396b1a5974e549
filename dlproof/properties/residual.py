"""Properties of residual networks, against the float64 oracle (dlproof.derivations.oracle_residual: explicit
products of the block Jacobians I + J_l, a route different from the implementations' backward), with their
strategy and their tolerances (the shared dense layer: properties.feedforward).

Strategy: as backprop's (shapes, activation, weights with random signs times a drawn scale, biases up to 5,
arrays from a drawn seed through PCG64, cast to the target's dtype); ``identity`` draws W2 = b2 = 0.

Tolerances, the forward-error model (feedforward's dense layer; tol = SAFETY (= 2) times the bound, entry by
entry; no property loosens them). Block (x exact at the input): z = x W1^T + b1, h = phi(z), and
  x' = x + h W2^T + b2 bounded as ONE dot product of length k + n + 1 (x enters as x I^T), so any order of
  the three additions is covered: e = gamma_{k+n+1} (|h||W2|^T + |x| + |b2|) + e_h |W2|^T + e_x.
Backward (g = dL/dx_l, g_L = dy exact): dW2 = g^T h, db2 = sum g, dz = phi'(z) * (g W2),
  dW1 = dz^T x, db1 = sum dz, g <- g + dz W1, the last bounded as one dot product of length k + n + 1
  (gamma_{k+n+1} (|dz||W1| + |g|) + propagated), so fused or separate accumulation is covered.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from dlproof.derivations import oracle_residual as oracle
from dlproof.dtypes import DTYPES

from . import diagnose
from . import tolerances as tol
from .assertions import call
from .feedforward import ACTIVATION, BIAS_SCALES, Network, affine, dphi, exact, phi
from .registry import prop
from .strategies import SCALES, SEED, Problem, signed

VJP_IDS = ("resnet.chain.product", "resnet.block.jacobian", "mlp.backprop.weight_grad", "mlp.backprop.delta")


# ---- strategy ----------------------------------------------------------------------------------------------------

@st.composite
def residual_problems(draw, dtype: str = "float64", max_B: int = 4, max_n: int = 4, max_k: int = 4,
                      max_blocks: int = 3, identity: bool = False):
    """x (B, n), per block W1_l (k, n), b1_l, W2_l (n, k), b2_l, dy (B, n), a direction; ``identity``: W2 = b2 = 0."""
    L = draw(st.integers(1, max_blocks), label="blocks")
    n = draw(st.integers(1, max_n), label="n")
    k = draw(st.integers(1, max_k), label="k")
    B = draw(st.integers(1, max_B), label="B")
    act = draw(ACTIVATION, label="activation")
    w_scale = draw(st.sampled_from(SCALES), label="W scale")
    b_scale = draw(st.sampled_from(BIAS_SCALES), label="b scale")
    x_scale = draw(st.sampled_from(SCALES), label="x scale")
    seed = draw(SEED, label="seed")
    rng = np.random.default_rng(seed)
    arrays = {"x": signed(rng, (B, n), x_scale)}
    for l in range(1, L + 1):
        arrays[f"W1_{l}"] = signed(rng, (k, n), w_scale / np.sqrt(n))
        arrays[f"b1_{l}"] = signed(rng, (k,), b_scale)
        arrays[f"W2_{l}"] = signed(rng, (n, k), w_scale / np.sqrt(k)) * (0.0 if identity else 1.0)
        arrays[f"b2_{l}"] = signed(rng, (n,), b_scale) * (0.0 if identity else 1.0)
    arrays["dy"] = signed(rng, (B, n), 1.0)
    size = sum(a.size for kk, a in arrays.items() if kk != "dy")
    arrays["direction"] = signed(rng, (size,), 1.0)
    dt = np.dtype(dtype)
    arrays = {kk: v.astype(dt, copy=False) for kk, v in arrays.items()}
    return Problem(arrays, {"activation": act, "L": L, "n": n, "k": k, "B": B, "seed": seed, "w_scale": w_scale,
                            "b_scale": b_scale, "x_scale": x_scale, "identity": identity})


def _keys(problem: Problem) -> list:
    return [f"{p}_{l}" for l in range(1, problem["L"] + 1) for p in ("W1", "b1", "W2", "b2")]


def residual_blocks(problem: Problem) -> list:
    """[(W1, b1, W2, b2), ...] of a drawn problem."""
    return [(problem[f"W1_{l}"], problem[f"b1_{l}"], problem[f"W2_{l}"], problem[f"b2_{l}"])
            for l in range(1, problem["L"] + 1)]


# ---- tolerances --------------------------------------------------------------------------------------------------

def _model(x, blocks, activation, arithmetic, dy=None, subnormals="gradual"):
    X = exact(x, arithmetic, subnormals)
    P = [tuple(exact(a, arithmetic, subnormals) for a in blk) for blk in blocks]
    xs, zs, hs = [X], [], []
    for W1, b1, W2, b2 in P:
        z = affine(xs[-1], W1, b1)
        h = phi(activation, z)
        zs.append(z)
        hs.append(h)
        xs.append(affine(h, W2, b2, extra=xs[-1]))
    if dy is None:
        return xs[-1]
    g = exact(dy, arithmetic, subnormals)
    grads = [None] * len(P)
    for l in range(len(P), 0, -1):
        W1, _b1, W2, _b2 = P[l - 1]
        dz = dphi(activation, zs[l - 1], hs[l - 1]) * (g @ W2)
        grads[l - 1] = (dz.T @ xs[l - 1], dz.total(0), g.T @ hs[l - 1], g.total(0))
        zero_b = g._E(np.zeros(g.v.shape[1]), None)
        g = affine(dz, W1.T, zero_b, extra=g)
    return {"x": g, "blocks": grads}


def residual_forward_tol(x, blocks, activation: str, dtype, subnormals: str = "gradual") -> np.ndarray:
    """Entry-wise tolerance of y (B, n) for a target in ``dtype`` (a dtype name or a `tolerances.Arithmetic`;
    ``subnormals``: the declared convention, read where the format's underflow is reached: feedforward.underflow)."""
    return tol.SAFETY * _model(x, blocks, activation, dtype, subnormals=subnormals).e


def residual_vjp_tol(x, blocks, activation: str, dy, dtype, subnormals: str = "gradual") -> dict:
    """Entry-wise tolerances {"x", "blocks": [(tol_dW1, tol_db1, tol_dW2, tol_db2), ...]} (arguments:
    residual_forward_tol)."""
    m = _model(x, blocks, activation, dtype, dy, subnormals)
    return {"x": tol.SAFETY * m["x"].e, "blocks": [tuple(tol.SAFETY * t.e for t in blk) for blk in m["blocks"]]}


# ---- properties --------------------------------------------------------------------------------------------------

def _strategy(target, **kw):
    return residual_problems(dtype=target.dtype, **kw)


def _where(problem):
    return f"({problem['activation']}, {problem['L']} block(s), n={problem['n']}, k={problem['k']})"


def _forward(target, chk, problem):
    y = call(target, "residual", problem["x"], residual_blocks(problem), problem["activation"])
    return chk.array(f"residual(x, blocks, activation) {_where(problem)}", y, problem["x"].shape)


def _preacts(problem):
    _, zs = oracle.residual_forward_states(problem["x"], residual_blocks(problem), problem["activation"])
    return np.concatenate([np.ravel(z) for z in zs])


RESIDUAL = Network("residual", "blocks", ("dW1", "db1", "dW2", "db2"), residual_blocks, _keys, _forward,
                   oracle.residual_forward, oracle.residual_vjp, residual_forward_tol, _preacts)


def _hint_missing_identity(target, chk, problem, y):
    """Name the bug when y matches the blocks without their skip (x_l = F_l(x_{l-1}))."""
    f, _ = oracle._act(problem["activation"])
    x = np.asarray(problem["x"], np.float64)
    for W1, b1, W2, b2 in residual_blocks(problem):
        x = f(x @ np.asarray(W1, np.float64).T + b1) @ np.asarray(W2, np.float64).T + b2
    exp, t = RESIDUAL.reference(target, problem)
    if not np.all(np.abs(y - exp) <= t) and np.allclose(y, x, rtol=1e-3, atol=1e-5):
        chk.fail("y", "equals F_L(...F_1(x)) without the skip connections, but should be x_l = x_{l-1} + "
                      "F_l(x_{l-1}): the identity term of each residual block looks missing", part="forward",
                 likely_bug="the identity (skip) term of each residual block missing")


@prop("resnet.forward", title="residual network forward: x_l = x_{l-1} + W2 phi(W1 x_{l-1} + b1) + b2",
      capabilities=("residual",), derivations=("resnet.forward",), strategy=_strategy, precisions=DTYPES)
def forward(target, problem, chk):
    RESIDUAL.check_forward(target, chk, problem, _hint_missing_identity, _where(problem))


@prop("resnet.vjp", title="residual gradients dx, dW1, db1, dW2, db2 equal the product of (I + J_l) and the block formulas",
      capabilities=("residual_vjp",), derivations=VJP_IDS, strategy=_strategy, precisions=DTYPES)
def vjp(target, problem, chk):
    with diagnose.blame_vjp(lambda: RESIDUAL.forward_wrong(target, chk, problem), "resnet.forward"):
        blocks, act = residual_blocks(problem), problem["activation"]
        out = RESIDUAL.vjp(target, chk, problem)
        exp = oracle.residual_vjp(problem["x"], blocks, act, problem["dy"])
        t = residual_vjp_tol(problem["x"], blocks, act, problem["dy"], tol.precision(target), tol.underflow(target))
        names = ("dW1", "db1", "dW2", "db2")
        for l, (got, e, tt) in enumerate(zip(out["blocks"], exp["blocks"], t["blocks"]), start=1):
            for name, a, ee, ttt in zip(names, got, e, tt):
                chk.close(f"{name} of block {l} {_where(problem)}", a, ee, ttt)
        chk.close(f"dx {_where(problem)}", out["x"], exp["x"], t["x"])


@prop("resnet.identity_path", title="with W2 = 0, b2 = 0 every block is the identity: y = x and dx = dy",
      capabilities=("residual", "residual_vjp"), derivations=("resnet.identity_block", "resnet.block.jacobian"),
      strategy=lambda t: _strategy(t, identity=True), max_examples=30, precisions=DTYPES)
def identity_path(target, problem, chk):
    x, dy = np.asarray(problem["x"], np.float64), np.asarray(problem["dy"], np.float64)
    y = _forward(target, chk, problem)
    t = residual_forward_tol(problem["x"], residual_blocks(problem), problem["activation"], tol.precision(target), tol.underflow(target))
    if np.all(np.abs(y) <= t) and np.any(np.abs(x) > t):
        chk.fail(f"y {_where(problem)}", "is 0 with F = 0, but should be x: the identity (skip) term of the block is "
                                         "missing")
    chk.close(f"y with W2 = 0, b2 = 0 {_where(problem)}", y, x, t)
    out = RESIDUAL.vjp(target, chk, problem)
    tv = residual_vjp_tol(problem["x"], residual_blocks(problem), problem["activation"], problem["dy"],
                          tol.precision(target), tol.underflow(target))
    chk.close(f"dx with W2 = 0, b2 = 0 {_where(problem)}", out["x"], dy, tv["x"])


@prop("resnet.jacobian", title="the Jacobian from residual_vjp with basis cotangents equals prod (I + J_l)",
      capabilities=("residual_vjp",), derivations=("resnet.block.jacobian", "resnet.chain.product"),
      strategy=lambda t: _strategy(t, max_n=3, max_blocks=2), max_examples=50, precisions=DTYPES)
def jacobian(target, problem, chk):
    blocks, act = residual_blocks(problem), problem["activation"]
    J = oracle.residual_jacobian(problem["x"], blocks, act)  # (B, n, n): dy/dx per row
    B, n = problem["x"].shape
    for i in range(n):
        e = np.zeros((B, n), problem["x"].dtype)
        e[:, i] = 1
        out = RESIDUAL.vjp(target, chk, problem, dy=e)
        t = residual_vjp_tol(problem["x"], blocks, act, e, tol.precision(target), tol.underflow(target))["x"]
        chk.close(f"row {i} of dy/dx = (I + J_L)...(I + J_1) {_where(problem)}", out["x"], J[:, i, :], t)


@prop("resnet.vjp.fd", title="the residual oracle's gradient agrees with float64 central differences",
      capabilities=(), derivations=("resnet.chain.product",), strategy=lambda t: residual_problems(dtype="float64"),
      applies=lambda t: t.provides("residual") or t.provides("residual_vjp"), shared=lambda t: "residual", precisions=DTYPES)
def vjp_fd(target, problem, chk):
    """Validates the oracle itself (target-independent)."""
    RESIDUAL.check_oracle_fd(problem, chk)
