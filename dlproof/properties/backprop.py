"""Properties of the dense feed-forward network (MLP) and its backpropagation, against the float64 oracle
(dlproof.derivations.oracle_backprop: explicit Jacobian products, a route different from the delta recursion),
with their strategy and their tolerances (the shared dense layer: properties.feedforward).

Strategy: shapes are drawn (batch B, widths, depth, activation); weights are standard normal with random signs
times a drawn scale (never constant), biases up to 5 so tanh / sigmoid saturate; arrays come from a drawn
seed through PCG64 and are cast to the target's dtype. relu kinks: a pre-activation drawn at an exact 0
has probability 0 here; the tolerance model gives a kink within its forward error the full derivative jump,
and the finite-difference checks stay away from it (``assume``).

Tolerances, the forward-error model (feedforward's dense layer; tol = SAFETY (= 2) times the bound, entry by
entry; no property loosens them). Forward, a_0 = x exact:
  z_l = a_{l-1} W_l^T + b_l : e_z = gamma_{n_{l-1}+1} (|a_{l-1}||W_l|^T + |b_l|) + e_{a_{l-1}} |W_l|^T
  a_l = phi(z_l)            : e_a = Lip e_z + 4 u (tanh: Lip <= min(1, phi'(z) + 0.77 e_z); sigmoid:
                              min(1/4, phi'(z) + 0.0963 e_z); relu: exact and 1-Lipschitz); the last layer is linear
Backward (L = <dy, y>, delta_L = dy exact):
  dW_l = delta_l^T a_{l-1}  : gamma_B |delta_l|^T |a_{l-1}| + e_delta^T |a_{l-1}| + |delta_l|^T e_a (+ e e)
  db_l = sum_b delta_l      : gamma_B sum |delta_l| + sum e_delta
  s    = delta_l W_l        : gamma_{n_l} |delta_l||W_l| + e_delta |W_l|
  delta_{l-1} = phi'(z_{l-1}) * s;  dx = s at l = 1.
The bound is first order plus the product terms; SAFETY covers the rest.
"""
from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from dlproof.derivations import oracle_backprop as oracle
from dlproof.dtypes import DTYPES

from . import diagnose
from . import finite_difference as fd
from . import tolerances as tol
from .assertions import call
from .feedforward import ACTIVATION, BIAS_SCALES, Network, affine, dphi, exact, phi
from .registry import prop
from .strategies import SCALES, SEED, Problem, signed

FORWARD_IDS = ("mlp.forward",)
VJP_IDS = ("mlp.backprop.delta", "mlp.backprop.weight_grad", "mlp.backprop.input_grad")


# ---- strategy ----------------------------------------------------------------------------------------------------

@st.composite
def mlp_problems(draw, dtype: str = "float64", max_B: int = 4, max_width: int = 4, max_depth: int = 3):
    """x (B, n_0), W1..WL, b1..bL, dy (B, n_L), a unit-free direction over (x, params); scalar activation."""
    L = draw(st.integers(1, max_depth), label="depth L")
    widths = [draw(st.integers(1, max_width), label=f"n_{l}") for l in range(L + 1)]
    B = draw(st.integers(1, max_B), label="B")
    act = draw(ACTIVATION, label="activation")
    w_scale = draw(st.sampled_from(SCALES), label="W scale")
    b_scale = draw(st.sampled_from(BIAS_SCALES), label="b scale")
    x_scale = draw(st.sampled_from(SCALES), label="x scale")
    seed = draw(SEED, label="seed")
    rng = np.random.default_rng(seed)
    arrays = {"x": signed(rng, (B, widths[0]), x_scale)}
    for l in range(1, L + 1):
        arrays[f"W{l}"] = signed(rng, (widths[l], widths[l - 1]), w_scale / np.sqrt(widths[l - 1]))
        arrays[f"b{l}"] = signed(rng, (widths[l],), b_scale)
    arrays["dy"] = signed(rng, (B, widths[-1]), 1.0)
    size = sum(a.size for k, a in arrays.items() if k != "dy")
    arrays["direction"] = signed(rng, (size,), 1.0)
    dt = np.dtype(dtype)
    arrays = {k: v.astype(dt, copy=False) for k, v in arrays.items()}
    return Problem(arrays, {"activation": act, "L": L, "widths": tuple(widths), "B": B, "seed": seed,
                            "w_scale": w_scale, "b_scale": b_scale, "x_scale": x_scale})


def _keys(problem: Problem) -> list:
    return [f"{p}{l}" for l in range(1, problem["L"] + 1) for p in ("W", "b")]


def mlp_layers(problem: Problem) -> list:
    """[(W_l, b_l), ...] of a drawn problem (the protocol's list of tuples)."""
    return [(problem[f"W{l}"], problem[f"b{l}"]) for l in range(1, problem["L"] + 1)]


# ---- tolerances --------------------------------------------------------------------------------------------------

def _model(x, layers, activation, arithmetic, dy=None, subnormals="gradual"):
    x = exact(x, arithmetic, subnormals)
    P = [(exact(W, arithmetic, subnormals), exact(b, arithmetic, subnormals)) for W, b in layers]
    a, zs, acts = x, [], [x]
    L = len(P)
    for l, (W, b) in enumerate(P, start=1):
        z = affine(a, W, b)
        zs.append(z)
        a = phi(activation, z) if l < L else z
        acts.append(a)
    if dy is None:
        return a
    delta = exact(dy, arithmetic, subnormals)
    grads = [None] * L
    for l in range(L, 0, -1):
        W = P[l - 1][0]
        grads[l - 1] = (delta.T @ acts[l - 1], delta.total(0))
        s = delta @ W
        if l > 1:
            delta = dphi(activation, zs[l - 2], acts[l - 1]) * s
    return {"x": s, "layers": grads}


def mlp_forward_tol(x, layers, activation: str, dtype, subnormals: str = "gradual") -> np.ndarray:
    """Entry-wise tolerance of y (B, n_L) for a target in ``dtype`` (a dtype name or a `tolerances.Arithmetic`;
    ``subnormals``: the declared convention, read where the format's underflow is reached: feedforward.underflow)."""
    return tol.SAFETY * _model(x, layers, activation, dtype, subnormals=subnormals).e


def mlp_vjp_tol(x, layers, activation: str, dy, dtype, subnormals: str = "gradual") -> dict:
    """Entry-wise tolerances {"x", "layers": [(tol_dW, tol_db), ...]} of mlp_vjp's outputs (arguments: mlp_forward_tol)."""
    m = _model(x, layers, activation, dtype, dy, subnormals)
    return {"x": tol.SAFETY * m["x"].e, "layers": [(tol.SAFETY * dW.e, tol.SAFETY * db.e) for dW, db in m["layers"]]}


# ---- properties --------------------------------------------------------------------------------------------------

def _strategy(target):
    return mlp_problems(dtype=target.dtype)


def _forward(target, chk, problem):
    layers = mlp_layers(problem)
    y = call(target, "mlp", problem["x"], layers, problem["activation"])
    return chk.array("mlp(x, layers, activation)", y, (problem["B"], problem["widths"][-1]))


def _preacts(problem):
    zs, _ = oracle.mlp_forward_states(problem["x"], mlp_layers(problem), problem["activation"])
    return np.concatenate([np.ravel(z) for z in zs[:-1]]) if len(zs) > 1 else np.array([np.inf])


MLP = Network("mlp", "layers", ("dW", "db"), mlp_layers, _keys, _forward, oracle.mlp_forward, oracle.mlp_vjp,
              mlp_forward_tol, _preacts)


def _hint_last_activation(target, chk, problem, y):
    """Name the bug when y matches the network with phi applied on the last layer too."""
    f, _ = oracle._act(problem["activation"])
    exp, t = MLP.reference(target, problem)
    alt = f(exp)
    if not np.all(np.abs(y - exp) <= t) and np.all(np.abs(y - alt) <= t + 8 * tol.u_total(target.dtype) * np.abs(alt)):
        chk.fail("y", f"equals {problem['activation']} applied to the last layer's output, but should be the last "
                      "layer's affine output z_L (the protocol's last layer is linear: no activation after it)",
                 part="forward", likely_bug="activation applied to the last layer (the protocol's last layer is linear)")


@prop("mlp.forward", title="MLP forward equals the composition of affine layers and activations (last layer linear)",
      capabilities=("mlp",), derivations=FORWARD_IDS, strategy=_strategy, precisions=DTYPES)
def forward(target, problem, chk):
    MLP.check_forward(target, chk, problem, _hint_last_activation,
                      f"({problem['activation']}, widths {problem['widths']})")


@prop("mlp.vjp", title="MLP gradients dx, dW_l, db_l equal the proved backpropagation formulas",
      capabilities=("mlp_vjp",), derivations=VJP_IDS, strategy=_strategy, precisions=DTYPES)
def vjp(target, problem, chk):
    with diagnose.blame_vjp(lambda: MLP.forward_wrong(target, chk, problem), "mlp.forward", "mlp.vjp.fd_own_dtype"):
        layers, act = mlp_layers(problem), problem["activation"]
        out = MLP.vjp(target, chk, problem)
        exp = oracle.mlp_vjp(problem["x"], layers, act, problem["dy"])
        t = mlp_vjp_tol(problem["x"], layers, act, problem["dy"], tol.precision(target), tol.underflow(target))
        where = f"({act}, widths {problem['widths']})"
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


@prop("mlp.vjp.fd", title="the MLP oracle's gradient agrees with float64 central differences (Richardson-checked)",
      capabilities=(), derivations=VJP_IDS, strategy=lambda t: mlp_problems(dtype="float64"),
      applies=lambda t: t.provides("mlp") or t.provides("mlp_vjp"), shared=lambda t: "mlp", precisions=DTYPES)
def vjp_fd(target, problem, chk):
    """Validates the oracle itself (target-independent): <grad, v> vs (L(θ+εv) - L(θ-εv)) / 2ε."""
    MLP.check_oracle_fd(problem, chk)


# float32/float64 only: finite_difference.step_size knows only those two formats (a 16-bit dtype would get float64's
# step 1e-5, far below its rounding: L(θ+) - L(θ-) would be all noise)
@prop("mlp.vjp.fd_own_dtype", title="the MLP target's gradient agrees with its own forward, in its own dtype",
      capabilities=("mlp", "mlp_vjp"), derivations=VJP_IDS, strategy=_strategy)
def vjp_fd_own_dtype(target, problem, chk):
    """L(θ+) - L(θ-) from the target's forward vs <g, θ+ - θ-> with the target's gradient g, θ± rounded to the
    target's dtype; every term of the budget (truncation, curvature, forward rounding) comes from the target's
    own forward (finite_difference.check_own), so a wrong forward with its matching backward passes here."""
    dt = np.dtype(target.dtype)
    theta = MLP.flat(problem)
    v = np.asarray(problem["direction"], np.float64)
    v = v / np.linalg.norm(v)
    pts = fd.points(theta, v, dt)
    if problem["activation"] == "relu":
        h = fd.step_size(dt, theta)
        assume(min(float(np.min(np.abs(_preacts(MLP.unflat(problem, r))))) for r in pts.values()) > 10 * h)
        signs = {np.signbit(_preacts(MLP.unflat(problem, theta + s * h * v))).tobytes() for s in np.linspace(-4, 4, 33)}
        assume(len(signs) == 1)  # one smooth piece along the whole segment
    prec = tol.precision(target)
    u = tol.unit_roundoff(prec)
    dy = np.asarray(problem["dy"], np.float64)

    def target_L(point):
        r = MLP.unflat(problem, point)
        rr = MLP.unflat(problem, point.astype(dt))
        rr.arrays.update({k: np.asarray(a, dt) for k, a in rr.arrays.items()})
        y = chk.array("mlp(x, layers, activation)",
                      call(target, "mlp", rr["x"], mlp_layers(rr), problem["activation"]),
                      (problem["B"], problem["widths"][-1])).astype(np.float64)
        e = float(np.sum(np.abs(dy) * (mlp_forward_tol(r["x"], mlp_layers(r), problem["activation"], prec)
                                       + 4 * u * np.abs(y))))
        return float(np.sum(dy * y)), e

    out = MLP.vjp(target, chk, problem)
    g = MLP.flat_grads({"x": np.asarray(out["x"], np.float64),
                        "layers": [tuple(np.asarray(a, np.float64) for a in p) for p in out["layers"]]})
    chk.holds("mlp_vjp(...) gradient", g.shape == theta.shape and bool(np.all(np.isfinite(g))),
              f"has {g.size} entries (or non-finite ones), but should have {theta.size} finite entries")
    tg = MLP.flat_grads(mlp_vjp_tol(problem["x"], mlp_layers(problem), problem["activation"], problem["dy"], prec))
    fd.check_own(chk, "L(θ+) - L(θ-) vs <g, θ+ - θ->", theta, v, dt, pts, target_L, g, tg, prec)
