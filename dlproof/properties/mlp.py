"""Properties of the dense feed-forward network (MLP) and its backpropagation, against the float64 oracle
(dlproof.derivations.oracle_mlp: explicit Jacobian products, a route different from the delta recursion).

Tolerances: properties.tolerances_ff (forward-error model per dtype); no property loosens them.
"""
from __future__ import annotations

import numpy as np
from hypothesis import assume

from dlproof.derivations import oracle_mlp as oracle

from . import diagnose, own_fd
from . import tolerances as tol
from . import tolerances_ff as tff
from .assertions import call
from .registry import prop
from .strategies_ff import mlp_layers, mlp_problems

FORWARD_IDS = ("mlp.forward",)
VJP_IDS = ("mlp.backprop.delta", "mlp.backprop.weight_grad", "mlp.backprop.input_grad")


def _strategy(target):
    return mlp_problems(dtype=target.dtype)


def _forward(target, chk, q):
    layers = mlp_layers(q)
    y = call(target, "mlp", q["x"], layers, q["activation"])
    return chk.array("mlp(x, layers, activation)", y, (q["B"], q["widths"][-1]))


def _vjp(target, chk, q):
    """The target's mlp_vjp, its structure checked: {"x": (B, n_0), "layers": [(dW_l, db_l), ...]}."""
    layers = mlp_layers(q)
    out = call(target, "mlp_vjp", q["x"], layers, q["activation"], q["dy"])
    chk.holds("mlp_vjp(...)", isinstance(out, dict) and "x" in out and "layers" in out,
              f"returned {type(out).__name__} {sorted(out) if isinstance(out, dict) else ''}, but should be a dict "
              "with keys 'x' and 'layers'")
    grads = out["layers"]
    chk.holds("mlp_vjp(...)['layers']", isinstance(grads, (list, tuple)) and len(grads) == len(layers)
              and all(isinstance(g, (list, tuple)) and len(g) == 2 for g in grads),
              f"is {type(grads).__name__} of length {len(grads) if hasattr(grads, '__len__') else '?'}, but should be "
              f"a list of {len(layers)} (dW, db) tuples")
    return out


def _hint_last_activation(target, chk, q, y):
    """Name the bug when y matches the network with phi applied on the last layer too."""
    f, _ = oracle._act(q["activation"])
    alt = f(oracle.mlp_forward(q["x"], mlp_layers(q), q["activation"]))
    t = tff.mlp_forward_tol(q["x"], mlp_layers(q), q["activation"], tol.precision(target))
    exp = oracle.mlp_forward(q["x"], mlp_layers(q), q["activation"])
    if not np.all(np.abs(y - exp) <= t) and np.all(np.abs(y - alt) <= t + 8 * tol.u_total(target.dtype) * np.abs(alt)):
        chk.fail("y", f"equals {q['activation']} applied to the last layer's output, but should be the last layer's "
                      "affine output z_L (the protocol's last layer is linear: no activation after it)",
                 part="forward", likely_bug="activation applied to the last layer (the protocol's last layer is linear)")


@prop("mlp.forward", title="MLP forward equals the composition of affine layers and activations (last layer linear)",
      capabilities=("mlp",), derivations=FORWARD_IDS, strategy=_strategy)
def forward(target, q, chk):
    with diagnose.blame("forward"):
        y = _forward(target, chk, q)
        _hint_last_activation(target, chk, q, y.astype(np.float64))
        expected, t = _reference(target, q)
        chk.close(f"y ({q['activation']}, widths {q['widths']})", y, expected, t)


def _reference(target, q):
    """(the oracle's forward, its tolerance for the target's precision) on this example."""
    return (oracle.mlp_forward(q["x"], mlp_layers(q), q["activation"]),
            tff.mlp_forward_tol(q["x"], mlp_layers(q), q["activation"], tol.precision(target)))


def _forward_wrong(target, chk, q) -> bool:
    """Whether the target's own forward misses the oracle on this example (False when it cannot tell)."""
    return diagnose.own_forward_wrong(target, "mlp", lambda: _forward(target, chk, q), lambda: _reference(target, q))


@prop("mlp.vjp", title="MLP gradients dx, dW_l, db_l equal the proved backpropagation formulas",
      capabilities=("mlp_vjp",), derivations=VJP_IDS, strategy=_strategy)
def vjp(target, q, chk):
    with diagnose.blame_vjp(lambda: _forward_wrong(target, chk, q), "mlp.forward", "mlp.vjp.fd_own_dtype"):
        layers, act = mlp_layers(q), q["activation"]
        out = _vjp(target, chk, q)
        exp = oracle.mlp_vjp(q["x"], layers, act, q["dy"])
        t = tff.mlp_vjp_tol(q["x"], layers, act, q["dy"], tol.precision(target))
        where = f"({act}, widths {q['widths']})"
        for l, ((dW, db), (eW, eb), (tW, tb)) in enumerate(zip(out["layers"], exp["layers"], t["layers"]), start=1):
            W = layers[l - 1][0]
            if isinstance(dW, np.ndarray) and dW.shape != W.shape:
                hint = (" (it has the transposed shape: dL/dW_l = delta_l a_{l-1}^T has W_l's shape (n_l, n_{l-1}))"
                        if dW.shape == W.T.shape else
                        " (dL/dW_l = delta_l a_{l-1}^T pairs delta_l with the layer's INPUT a_{l-1})")
                chk.fail(f"dW_{l} {where}", f"shape={dW.shape}, but should be W_{l}.shape = {W.shape}{hint}",
                         likely_bug=("W transposed in the backward only (dW^T returned)" if dW.shape == W.T.shape
                                     else None))
            chk.close(f"dW_{l} {where}", dW, eW, tW)
            chk.close(f"db_{l} {where}", db, eb, tb)
        chk.close(f"dx {where}", out["x"], exp["x"], t["x"])


def _flat(q):
    return np.concatenate([np.ravel(q["x"])] + [np.ravel(a) for W, b in mlp_layers(q) for a in (W, b)]).astype(np.float64)


def _unflat(q, theta):
    arrays = dict(q.arrays)
    i = 0
    for k in ["x"] + [f"{p}{l}" for l in range(1, q["L"] + 1) for p in ("W", "b")]:
        n = q[k].size
        arrays[k] = theta[i:i + n].reshape(q[k].shape)
        i += n
    return type(q)(arrays, dict(q.scalars))


def _flat_grads(g):
    return np.concatenate([np.ravel(g["x"])] + [np.ravel(a) for p in g["layers"] for a in p])


def _preacts(q):
    zs, _ = oracle.mlp_forward_states(q["x"], mlp_layers(q), q["activation"])
    return np.concatenate([np.ravel(z) for z in zs[:-1]]) if len(zs) > 1 else np.array([np.inf])


@prop("mlp.vjp.fd", title="the MLP oracle's gradient agrees with float64 central differences (Richardson-checked)",
      capabilities=(), derivations=VJP_IDS, strategy=lambda t: mlp_problems(dtype="float64"),
      applies=lambda t: t.provides("mlp") or t.provides("mlp_vjp"), shared=lambda t: "mlp")
def vjp_fd(target, q, chk):
    """Validates the oracle itself (target-independent): <grad, v> vs (L(θ+εv) - L(θ-εv)) / 2ε."""
    theta = _flat(q)
    v = np.asarray(q["direction"], np.float64)
    v = v / np.linalg.norm(v)
    exact = float(_flat_grads(oracle.mlp_vjp(q["x"], mlp_layers(q), q["activation"], q["dy"])) @ v)
    eps = 1e-4 * max(1.0, float(np.max(np.abs(theta))))
    if q["activation"] == "relu":
        for s in (1, -1, 0.5, -0.5):
            assume(np.min(np.abs(_preacts(_unflat(q, theta + s * eps * v)))) > 1e-3)

    def L(th):
        qq = _unflat(q, th)
        return float(np.sum(q["dy"] * oracle.mlp_forward(qq["x"], mlp_layers(qq), qq["activation"])))

    d1 = (L(theta + eps * v) - L(theta - eps * v)) / (2 * eps)
    d2 = (L(theta + eps / 2 * v) - L(theta - eps / 2 * v)) / eps
    richardson = (4 * d2 - d1) / 3
    t_y = tff.mlp_forward_tol(q["x"], mlp_layers(q), q["activation"], "float64")
    y = oracle.mlp_forward(q["x"], mlp_layers(q), q["activation"])
    E_L = float(np.sum(np.abs(q["dy"]) * (t_y + 4 * tol.UNIT_ROUNDOFF["float64"] * np.abs(y))))
    tolerance = abs(d1 - d2) + 2 * E_L / eps + 1e-12 * abs(exact)
    chk.scalar_close("<grad, v> vs central differences", exact, richardson, tolerance)


@prop("mlp.vjp.fd_own_dtype", title="the MLP target's gradient agrees with its own forward, in its own dtype",
      capabilities=("mlp", "mlp_vjp"), derivations=VJP_IDS, strategy=_strategy)
def vjp_fd_own_dtype(target, q, chk):
    """L(θ+) - L(θ-) from the target's forward vs <g, θ+ - θ-> with the target's gradient g, θ± rounded to the
    target's dtype; every term of the budget (truncation, curvature, forward rounding) comes from the target's
    own forward (properties.own_fd), so a wrong forward with its matching backward passes here."""
    dt = np.dtype(target.dtype)
    theta = _flat(q)
    v = np.asarray(q["direction"], np.float64)
    v = v / np.linalg.norm(v)
    pts = own_fd.points(theta, v, dt)
    if q["activation"] == "relu":
        h = own_fd.step_size(dt, theta)
        assume(min(float(np.min(np.abs(_preacts(_unflat(q, r))))) for r in pts.values()) > 10 * h)
        signs = {np.signbit(_preacts(_unflat(q, theta + s * h * v))).tobytes() for s in np.linspace(-4, 4, 33)}
        assume(len(signs) == 1)  # one smooth piece along the whole segment
    prec = tol.precision(target)
    u = tol.unit_roundoff(prec)
    dy = np.asarray(q["dy"], np.float64)

    def target_L(point):
        r = _unflat(q, point)
        rr = _unflat(q, point.astype(dt))
        rr.arrays.update({k: np.asarray(a, dt) for k, a in rr.arrays.items()})
        y = chk.array("mlp(x, layers, activation)", call(target, "mlp", rr["x"], mlp_layers(rr), q["activation"]),
                      (q["B"], q["widths"][-1])).astype(np.float64)
        e = float(np.sum(np.abs(dy) * (tff.mlp_forward_tol(r["x"], mlp_layers(r), q["activation"], prec)
                                       + 4 * u * np.abs(y))))
        return float(np.sum(dy * y)), e

    out = _vjp(target, chk, q)
    g = _flat_grads({"x": np.asarray(out["x"], np.float64),
                     "layers": [tuple(np.asarray(a, np.float64) for a in p) for p in out["layers"]]})
    chk.holds("mlp_vjp(...) gradient", g.shape == theta.shape and bool(np.all(np.isfinite(g))),
              f"has {g.size} entries (or non-finite ones), but should have {theta.size} finite entries")
    tg = _flat_grads(tff.mlp_vjp_tol(q["x"], mlp_layers(q), q["activation"], q["dy"], prec))
    own_fd.check(chk, "L(θ+) - L(θ-) vs <g, θ+ - θ->", theta, v, dt, pts, target_L, g, tg, prec)
