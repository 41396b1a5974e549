"""Properties of residual networks, against the float64 oracle (dlproof.derivations.oracle_mlp: explicit
products of the block Jacobians I + J_l, a route different from the implementations' backward).

Tolerances: properties.tolerances_ff (forward-error model per dtype); no property loosens them.
"""
from __future__ import annotations

import numpy as np
from hypothesis import assume

from dlproof.derivations import oracle_mlp as oracle

from . import diagnose
from . import tolerances as tol
from . import tolerances_ff as tff
from .assertions import call
from .registry import prop
from .strategies_ff import residual_blocks, residual_problems

VJP_IDS = ("resnet.chain.product", "resnet.block.jacobian", "mlp.backprop.weight_grad", "mlp.backprop.delta")


def _strategy(target, **kw):
    return residual_problems(dtype=target.dtype, **kw)


def _where(q):
    return f"({q['activation']}, {q['L']} block(s), n={q['n']}, k={q['k']})"


def _forward(target, chk, q):
    y = call(target, "residual", q["x"], residual_blocks(q), q["activation"])
    return chk.array(f"residual(x, blocks, activation) {_where(q)}", y, q["x"].shape)


def _vjp(target, chk, q, dy=None):
    blocks = residual_blocks(q)
    out = call(target, "residual_vjp", q["x"], blocks, q["activation"], q["dy"] if dy is None else dy)
    chk.holds("residual_vjp(...)", isinstance(out, dict) and "x" in out and "blocks" in out,
              f"returned {type(out).__name__} {sorted(out) if isinstance(out, dict) else ''}, but should be a dict "
              "with keys 'x' and 'blocks'")
    grads = out["blocks"]
    chk.holds("residual_vjp(...)['blocks']", isinstance(grads, (list, tuple)) and len(grads) == len(blocks)
              and all(isinstance(g, (list, tuple)) and len(g) == 4 for g in grads),
              f"is {type(grads).__name__} of length {len(grads) if hasattr(grads, '__len__') else '?'}, but should be "
              f"a list of {len(blocks)} (dW1, db1, dW2, db2) tuples")
    return out


def _hint_missing_identity(target, chk, q, y):
    """Name the bug when y matches the blocks without their skip (x_l = F_l(x_{l-1}))."""
    f, _ = oracle._act(q["activation"])
    x = np.asarray(q["x"], np.float64)
    for W1, b1, W2, b2 in residual_blocks(q):
        x = f(x @ np.asarray(W1, np.float64).T + b1) @ np.asarray(W2, np.float64).T + b2
    exp = oracle.residual_forward(q["x"], residual_blocks(q), q["activation"])
    t = tff.residual_forward_tol(q["x"], residual_blocks(q), q["activation"], tol.precision(target))
    if not np.all(np.abs(y - exp) <= t) and np.allclose(y, x, rtol=1e-3, atol=1e-5):
        chk.fail("y", "equals F_L(...F_1(x)) without the skip connections, but should be x_l = x_{l-1} + "
                      "F_l(x_{l-1}): the identity term of each residual block looks missing", part="forward",
                 likely_bug="the identity (skip) term of each residual block missing")


@prop("resnet.forward", title="residual network forward: x_l = x_{l-1} + W2 phi(W1 x_{l-1} + b1) + b2",
      capabilities=("residual",), derivations=("resnet.forward",), strategy=_strategy)
def forward(target, q, chk):
    with diagnose.blame("forward"):
        y = _forward(target, chk, q)
        _hint_missing_identity(target, chk, q, y.astype(np.float64))
        exp, t = _reference(target, q)
        chk.close(f"y {_where(q)}", y, exp, t)


def _reference(target, q):
    """(the oracle's forward, its tolerance for the target's precision) on this example."""
    return (oracle.residual_forward(q["x"], residual_blocks(q), q["activation"]),
            tff.residual_forward_tol(q["x"], residual_blocks(q), q["activation"], tol.precision(target)))


def _forward_wrong(target, chk, q) -> bool:
    """Whether the target's own forward misses the oracle on this example (False when it cannot tell)."""
    return diagnose.own_forward_wrong(target, "residual", lambda: _forward(target, chk, q), lambda: _reference(target, q))


@prop("resnet.vjp", title="residual gradients dx, dW1, db1, dW2, db2 equal the product of (I + J_l) and the block formulas",
      capabilities=("residual_vjp",), derivations=VJP_IDS, strategy=_strategy)
def vjp(target, q, chk):
    with diagnose.blame_vjp(lambda: _forward_wrong(target, chk, q), "resnet.forward"):
        blocks, act = residual_blocks(q), q["activation"]
        out = _vjp(target, chk, q)
        exp = oracle.residual_vjp(q["x"], blocks, act, q["dy"])
        t = tff.residual_vjp_tol(q["x"], blocks, act, q["dy"], tol.precision(target))
        names = ("dW1", "db1", "dW2", "db2")
        for l, (got, e, tt) in enumerate(zip(out["blocks"], exp["blocks"], t["blocks"]), start=1):
            for name, a, ee, ttt in zip(names, got, e, tt):
                chk.close(f"{name} of block {l} {_where(q)}", a, ee, ttt)
        chk.close(f"dx {_where(q)}", out["x"], exp["x"], t["x"])


@prop("resnet.identity_path", title="with W2 = 0, b2 = 0 every block is the identity: y = x and dx = dy",
      capabilities=("residual", "residual_vjp"), derivations=("resnet.identity_block", "resnet.block.jacobian"),
      strategy=lambda t: _strategy(t, identity=True), max_examples=30)
def identity_path(target, q, chk):
    x, dy = np.asarray(q["x"], np.float64), np.asarray(q["dy"], np.float64)
    y = _forward(target, chk, q)
    t = tff.residual_forward_tol(q["x"], residual_blocks(q), q["activation"], tol.precision(target))
    if np.all(np.abs(y) <= t) and np.any(np.abs(x) > t):
        chk.fail(f"y {_where(q)}", "is 0 with F = 0, but should be x: the identity (skip) term of the block is missing")
    chk.close(f"y with W2 = 0, b2 = 0 {_where(q)}", y, x, t)
    out = _vjp(target, chk, q)
    tv = tff.residual_vjp_tol(q["x"], residual_blocks(q), q["activation"], q["dy"], tol.precision(target))
    chk.close(f"dx with W2 = 0, b2 = 0 {_where(q)}", out["x"], dy, tv["x"])


@prop("resnet.jacobian", title="the Jacobian from residual_vjp with basis cotangents equals prod (I + J_l)",
      capabilities=("residual_vjp",), derivations=("resnet.block.jacobian", "resnet.chain.product"),
      strategy=lambda t: _strategy(t, max_n=3, max_blocks=2), max_examples=50)
def jacobian(target, q, chk):
    blocks, act = residual_blocks(q), q["activation"]
    J = oracle.residual_jacobian(q["x"], blocks, act)  # (B, n, n): dy/dx per row
    B, n = q["x"].shape
    for i in range(n):
        e = np.zeros((B, n), q["x"].dtype)
        e[:, i] = 1
        out = _vjp(target, chk, q, dy=e)
        t = tff.residual_vjp_tol(q["x"], blocks, act, e, tol.precision(target))["x"]
        chk.close(f"row {i} of dy/dx = (I + J_L)...(I + J_1) {_where(q)}", out["x"], J[:, i, :], t)


def _flat(q):
    return np.concatenate([np.ravel(q["x"])] + [np.ravel(a) for blk in residual_blocks(q) for a in blk]).astype(np.float64)


def _unflat(q, theta):
    arrays = dict(q.arrays)
    keys = ["x"] + [f"{p}_{l}" for l in range(1, q["L"] + 1) for p in ("W1", "b1", "W2", "b2")]
    i = 0
    for k in keys:
        n = q[k].size
        arrays[k] = theta[i:i + n].reshape(q[k].shape)
        i += n
    return type(q)(arrays, dict(q.scalars))


@prop("resnet.vjp.fd", title="the residual oracle's gradient agrees with float64 central differences",
      capabilities=(), derivations=("resnet.chain.product",), strategy=lambda t: residual_problems(dtype="float64"),
      applies=lambda t: t.provides("residual") or t.provides("residual_vjp"), shared=lambda t: "residual")
def vjp_fd(target, q, chk):
    """Validates the oracle itself (target-independent)."""
    theta = _flat(q)
    v = np.asarray(q["direction"], np.float64)
    v = v / np.linalg.norm(v)
    g = oracle.residual_vjp(q["x"], residual_blocks(q), q["activation"], q["dy"])
    exact = float(np.concatenate([np.ravel(g["x"])] + [np.ravel(a) for b in g["blocks"] for a in b]) @ v)
    eps = 1e-4 * max(1.0, float(np.max(np.abs(theta))))
    if q["activation"] == "relu":
        for s in (1, -1, 0.5, -0.5):  # stay away from the kink
            qq = _unflat(q, theta + s * eps * v)
            _, zs = oracle.residual_forward_states(qq["x"], residual_blocks(qq), "relu")
            assume(min(float(np.min(np.abs(z))) for z in zs) > 1e-3)

    def L(th):
        qq = _unflat(q, th)
        return float(np.sum(q["dy"] * oracle.residual_forward(qq["x"], residual_blocks(qq), qq["activation"])))

    d1 = (L(theta + eps * v) - L(theta - eps * v)) / (2 * eps)
    d2 = (L(theta + eps / 2 * v) - L(theta - eps / 2 * v)) / eps
    richardson = (4 * d2 - d1) / 3
    t_y = tff.residual_forward_tol(q["x"], residual_blocks(q), q["activation"], "float64")
    y = oracle.residual_forward(q["x"], residual_blocks(q), q["activation"])
    E_L = float(np.sum(np.abs(q["dy"]) * (t_y + 4 * tol.UNIT_ROUNDOFF["float64"] * np.abs(y))))
    tolerance = abs(d1 - d2) + 2 * E_L / eps + 1e-12 * abs(exact)
    chk.scalar_close("<grad, v> vs central differences", exact, richardson, tolerance)
