"""Properties of the projected LSTM cell (LSTMP, torch.nn.LSTM's proj_size) against its float64 oracle
(dlproof.derivations.oracle_projection, kernels printed from derivations/projection.py), with their strategy and
their tolerances.

    [a_i, a_f, a_g, a_o] = x W_x*^T + h W_h*^T + b_*,   c' = sigma(a_f) c + sigma(a_i) tanh(a_g),
    u = sigma(a_o) tanh(c'),   h' = u W_proj^T                      (batch rows; W_h* (n, P), W_proj (P, n))

Strategy: the LSTM cell's draws (`strategies.gated_problems`, one step: shapes, weight and bias scales up to
saturated gates, a seed) with the recurrent part redrawn at the projection size P, from the same seed: W_h*
(n, P) at the drawn weight scale, h (B, P) in (-1, 1), W_proj (P, n) at a drawn scale. P is drawn in [1, n], or
in [1, n - 1] (so n >= 2) when the target declares the restriction ``projection_size: 'smaller_than_hidden'``
(torch.nn requires proj_size < hidden_size).

Tolerances, the LSTM cell's forward-error model (properties.errmodel; tol = SAFETY (= 2) times the bound, entry
by entry, at u = u_target + u_float64): each pre-activation is one dot product of m + P + 1 terms
(`errmodel.affine`), then sigmoid, tanh, the products and the sum of c', and the projection u W_proj^T, one dot
product of n terms whose inputs u carry their own bound (`errmodel.E.__matmul__`).

A failure of the forward names the likely bug when the target's output fits one of `LIKELY_BUGS` within the same
error model (shapes included: an unprojected h' has n columns, not P).
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from dlproof.derivations import oracle_projection as oracle
from dlproof.derivations.oracle_projection import PROJ_PARAMS
from dlproof.dtypes import DTYPES
from dlproof.parameters import LSTM_PARAMS

from . import diagnose
from . import errmodel as em
from . import restrictions
from . import tolerances as tol
from .assertions import PropertyFailure, call
from .registry import prop
from .strategies import SCALES, Problem, gated_problems, signed

_SEED_MIX = 0x2545F491  # the projection's stream: the problem's seed xor this


def smaller_only(target) -> bool:
    """Whether the target declares ``projection_size: 'smaller_than_hidden'`` (P < n only)."""
    return restrictions.value(target, "projection_size") == "smaller_than_hidden"


@st.composite
def proj_problems(draw, dtype: str = "float64", max_n: int = 4, smaller: bool = False, square: bool = False):
    """One projected cell step: x = xs[0] (B, m), h0 (B, P), c0 (B, n), the 13 parameters by name; scalars n, m,
    B, P, seed, the scales. ``smaller``: 1 <= P < n (n >= 2); ``square``: P = n; else 1 <= P <= n."""
    base = gated_problems("lstm", dtype=dtype, max_n=max_n, max_T=1)
    problem = draw(base.filter(lambda p: p["n"] >= 2) if smaller else base)
    n, B = problem["n"], problem["B"]
    P = n if square else draw(st.integers(1, n - 1 if smaller else n), label="P")
    proj_scale = draw(st.sampled_from(SCALES), label="W_proj scale")
    rng = np.random.default_rng(problem["seed"] ^ _SEED_MIX)
    dt = np.dtype(dtype)
    arrays = {k: v for k, v in problem.arrays.items() if k in LSTM_PARAMS or k in ("xs", "c0")}
    arrays.update({f"W_h{g}": signed(rng, (n, P), problem["w_scale"]).astype(dt) for g in "ifgo"})
    arrays["h0"] = np.tanh(signed(rng, (B, P), 1.0)).astype(dt)
    arrays["W_proj"] = signed(rng, (P, n), proj_scale).astype(dt)
    return Problem(arrays, {**problem.scalars, "P": P, "proj_scale": proj_scale})


def _strategy(target, **kw):
    return proj_problems(dtype=target.dtype, smaller=smaller_only(target), **kw)


def cell_model(x, h, c, p, dtype: str) -> dict:
    """The forward-error model of one projected cell in ``dtype``: errmodel values (float64 value ``v``, bound
    ``e``) of the gate o, tanh(c'), u = o tanh(c'), h' and c', and W_proj itself (exact)."""
    ex = tol.exact_in(dtype)
    P = {k: ex(p[k]) for k in PROJ_PARAMS}
    x, h, c = (ex(a) for a in (x, h, c))

    def pre(g):
        return em.affine(x, P[f"W_x{g}"], h, P[f"W_h{g}"], P[f"b_{g}"])

    c_new = em.sigmoid(pre("f")) * c + em.sigmoid(pre("i")) * em.tanh(pre("g"))
    o, tc = em.sigmoid(pre("o")), em.tanh(c_new)
    out = o * tc
    return {"o": o, "tc": tc, "u": out, "h": out @ P["W_proj"].T, "c": c_new, "W_proj": P["W_proj"]}


def cell_tol(x, h, c, p, dtype: str):
    """Entry-wise tolerances (tol_h' (B, P), tol_c' (B, n)) of a projected cell in ``dtype`` (`cell_model`)."""
    M = cell_model(x, h, c, p, dtype)
    return tol.SAFETY * M["h"].e, tol.SAFETY * M["c"].e


#: likely bug -> the (h', c') it gives, as errmodel values built from `cell_model`'s pieces
LIKELY_BUGS = {
    "W_proj transposed (h' = u W_proj instead of u W_proj^T, u = o tanh(c'); shapes fit only when P = n)":
        lambda M: (M["u"] @ M["W_proj"], M["c"]),
    "the projection applied before the output gate (h' = o * (tanh(c') W_proj^T); shapes fit only when P = n)":
        lambda M: (M["o"] * (M["tc"] @ M["W_proj"].T), M["c"]),
    "the projection ignored (h' = o tanh(c'), the plain LSTM output of n columns instead of P)":
        lambda M: (M["u"], M["c"]),
    "c' returned projected (c' W_proj^T instead of the cell state c')":
        lambda M: (M["h"], M["c"] @ M["W_proj"].T),
}


def _fits(outs, model_outs) -> bool:
    return all(isinstance(a, np.ndarray) and diagnose.within(a, m.v, tol.SAFETY * m.e) for a, m in zip(outs, model_outs))


def likely_bug(outs, x, h, c, p, dtype: str):
    """The first `LIKELY_BUGS` entry whose (h', c') the target's ``outs`` match within the error model, or None."""
    try:
        M = cell_model(x, h, c, p, dtype)
    except Exception:  # noqa: BLE001 - a diagnosis never replaces the verdict it annotates
        return None
    for bug, wrong in LIKELY_BUGS.items():
        try:
            if _fits(outs, wrong(M)):
                return bug
        except Exception:  # noqa: BLE001 - e.g. a transposed W_proj whose shapes do not fit
            continue
    return None


def _p(problem) -> dict:
    return {k: problem[k] for k in PROJ_PARAMS}


def _cell(target, chk, capability, x, h, c, p):
    out = call(target, capability, x, h, c, p)
    chk.holds(f"{capability}(x, h, c, p)", isinstance(out, tuple) and len(out) == 2,
              f"returned {type(out).__name__}, but should be a tuple (h', c')")
    return out


@prop("proj.cell.forward", title="the projected LSTM cell (h', c') equals the oracle's one step",
      capabilities=("lstm_proj_cell",), derivations=("proj.cell.forward",), strategy=_strategy, precisions=DTYPES)
def cell_forward(target, problem, chk):
    """(h', c') against the oracle; a failure names the catalogued bug (`LIKELY_BUGS`) the output matches."""
    x, h, c, p = problem["xs"][0], problem["h0"], problem["c0"], _p(problem)
    outs = _cell(target, chk, "lstm_proj_cell", x, h, c, p)
    expected = oracle.lstm_proj_cell(x, h, c, p)
    prec = tol.precision(target)
    try:
        for name, a, e, t in zip(("h'", "c'"), outs, expected, cell_tol(x, h, c, p, prec)):
            chk.close(f"lstm_proj_cell(...) {name}", a, e, t)
    except PropertyFailure as exc:
        diagnose.annotate(exc, part="forward", likely_bug=likely_bug(outs, x, h, c, p, prec))
        raise


@prop("proj.cell.identity_projection",
      title="with P = n and W_proj = I the projected cell equals the target's lstm_cell",
      capabilities=("lstm_proj_cell", "lstm_cell"), derivations=("proj.cell.identity_projection", "lstm.cell.forward"),
      strategy=lambda t: proj_problems(dtype=t.dtype, square=True), applies=lambda t: not smaller_only(t),
      precisions=DTYPES)
def identity_projection(target, problem, chk):
    """Both outputs are within their error-model tolerance of the same exact value (proj.cell.identity_projection),
    so they differ by at most the sum of the two tolerances. A failure says the two capabilities disagree, not which
    one is wrong (proj.cell.forward and lstm.cell.forward say that). Not provided for a target restricted to P < n."""
    x, h, c = problem["xs"][0], problem["h0"], problem["c0"]
    p = {**_p(problem), "W_proj": np.eye(problem["n"], dtype=problem["W_proj"].dtype)}
    lstm_p = {k: p[k] for k in LSTM_PARAMS}
    proj = _cell(target, chk, "lstm_proj_cell", x, h, c, p)
    base = _cell(target, chk, "lstm_cell", x, h, c, lstm_p)
    prec = tol.precision(target)
    t_proj = cell_tol(x, h, c, p, prec)
    _, (t_h, t_c) = tol.lstm_forward_tol(problem["xs"][:1], h, c, lstm_p, prec)
    for name, a, b, t in zip(("h'", "c'"), proj, base, (t_proj[0] + t_h, t_proj[1] + t_c)):
        b = chk.array(f"lstm_cell(...) {name}", b, np.shape(a))
        chk.close(f"lstm_proj_cell(..., W_proj = I) {name} against lstm_cell(...) {name} (one of the two is wrong)",
                  a, b, t)


def _jacobian_problem(problem):
    """(x, h, c, p, direction v over the flat (x, h, c) (unit), cotangents (w_h, w_c)) from the problem's seed."""
    x, h, c, p = problem["xs"][0], problem["h0"], problem["c0"], _p(problem)
    rng = np.random.default_rng(problem["seed"] ^ _SEED_MIX ^ 1)
    v = signed(rng, (x.size + h.size + c.size,), 1.0)
    v /= np.linalg.norm(v)
    return x, h, c, p, v, (signed(rng, h.shape, 1.0), signed(rng, c.shape, 1.0))


@prop("proj.cell.jacobian",
      title="the target's (h', c') moves along a direction of (x, h, c) as the proved Jacobian blocks say (central "
            "differences, float64 targets)",
      capabilities=("lstm_proj_cell",),
      derivations=("proj.cell.jacobian_h", "proj.cell.jacobian_x", "proj.cell.jacobian_c"),
      strategy=_strategy, applies=lambda t: t.dtype == "float64", max_examples=50)
def cell_jacobian(target, problem, chk):
    """<w, J v> from the oracle's proved blocks (J = d(h', c')/d(x, h, c), numerator layout) against the Richardson
    extrapolation of central differences of L(x, h, c) = <w_h, h'> + <w_c, c'> computed by the TARGET
    (`finite_difference.check_oracle`). E_L, the rounding of one evaluation of L: the forward error model
    (`cell_model`, at u = u_float64 + u_float64) weighted by |w|, the summation of L (gamma_k, k = B (P + n)), and
    the rounding of the perturbed inputs to float64, u |w|^T |J| |theta|. Float64 targets only: a float32 target's
    rounding of the perturbed inputs is larger than any central difference can resolve (the forward property
    covers it)."""
    from . import finite_difference as fd

    x, h, c, p, v, (w_h, w_c) = _jacobian_problem(problem)
    shapes = [a.shape for a in (x, h, c)]
    sizes = np.cumsum([a.size for a in (x, h, c)])[:-1]
    theta = np.concatenate([np.asarray(a, np.float64).ravel() for a in (x, h, c)])
    J = oracle.lstm_proj_cell_jacobians(x, h, c, p)
    vx, vh, vc = (s.reshape(shape) for s, shape in zip(np.split(v, sizes), shapes))

    def apply(row, vx, vh, vc, absolute=False):
        f = np.abs if absolute else (lambda a: a)
        return sum(np.einsum("brj,bj->br", f(J[row + w]), a) for w, a in (("x", vx), ("h", vh), ("c", vc)))

    exact = float(np.sum(w_h * apply("h", vx, vh, vc)) + np.sum(w_c * apply("c", vx, vh, vc)))

    def loss(t):
        xs, hs, cs = (s.reshape(shape) for s, shape in zip(np.split(t, sizes), shapes))
        h_new, c_new = _cell(target, chk, "lstm_proj_cell", xs, hs, cs, p)
        h_new = chk.array("lstm_proj_cell(...) h'", h_new, w_h.shape)
        c_new = chk.array("lstm_proj_cell(...) c'", c_new, w_c.shape)
        return float(np.sum(w_h * h_new) + np.sum(w_c * c_new))

    u = tol.u_total("float64")
    M = cell_model(x, h, c, p, "float64")
    k = w_h.size + w_c.size
    terms = np.abs(w_h) * np.abs(M["h"].v), np.abs(w_c) * np.abs(M["c"].v)
    ax, ah, ac = (np.abs(np.asarray(a, np.float64)) for a in (x, h, c))
    inputs = np.sum(np.abs(w_h) * apply("h", ax, ah, ac, True)) + np.sum(np.abs(w_c) * apply("c", ax, ah, ac, True))
    E_L = float(np.sum(np.abs(w_h) * M["h"].e) + np.sum(np.abs(w_c) * M["c"].e)
                + em.gamma(k, u) * sum(t.sum() for t in terms) + u * inputs)
    try:
        fd.check_oracle(chk, exact, loss, theta, v, E_L)
    except PropertyFailure as exc:
        try:  # the likely bug, from the target's output at the unperturbed point
            bug = likely_bug(call(target, "lstm_proj_cell", x, h, c, p), x, h, c, p, tol.precision(target))
        except Exception:  # noqa: BLE001 - a diagnosis never replaces the verdict it annotates
            bug = None
        diagnose.annotate(exc, part="forward", likely_bug=bug,
                          extra=" | the target's (h', c') does not move as the proved blocks of proj.cell.jacobian_* say")
        raise
